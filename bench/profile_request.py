"""Where a hot path's time goes: cProfile over many requests through the whole app, in-process.

    .venv/bin/python bench/profile_request.py api|settings|apply [--requests 2000] [--limits URL]
        [--sort tottime|cumulative] [--top 30]

The app is the one `bench/http.py` serves (role `environment`, SQLite, production secrets, an
operator with a token and a session, the product key already active), driven by Werkzeug's test
client so that the profile holds the app's work alone: no gunicorn, no sockets. `--limits
redis://...` keeps the rate limits in that Redis, as several workers do. The app writes its request
log to stderr as it does in production: send it to a file or /dev/null (`2>/dev/null`), since a
terminal's slow writes would show in the profile.

Besides the profile it prints the Python function calls per request, a count that does not move
with machine noise: the figure to compare across versions and configurations (docs/performance.md).
"""
from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[0] = str(REPO)  # not bench/, whose http.py would stand in for the standard library's

import argparse  # noqa: E402
import cProfile  # noqa: E402
import json  # noqa: E402
import pstats  # noqa: E402
import re  # noqa: E402
import tempfile  # noqa: E402

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from webapp import create_app, product_key  # noqa: E402
from webapp.auth import create_token, create_user  # noqa: E402
from webapp.database import db  # noqa: E402

KID = "bench-2026-12"
EMAIL = "operator@example.com"
PASSWORD = "bench password 1"


def build(folder: str, limits: str):
    from bench.http import a_key

    vendor = Ed25519PrivateKey.generate()
    app = create_app({
        "SECRET_KEY": "bench-secret-key", "LICENSE_DATA_KEY": "bench-data-key-0123456789abcdef",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/environment.db", "LICENSE_ROLE": "environment",
        "LICENSE_INSTANCE_PATH": folder, "LICENSE_INSECURE_HTTP": True, "RATELIMIT_STORAGE_URI": limits,
        "LICENSE_PUBLIC_KEYS": {KID: product_key.public_key_pem(vendor.public_key())},
    })
    with app.app_context():
        db.create_all()
        user = create_user(EMAIL, PASSWORD, "operator")
        token = create_token(user)
        db.session.commit()
    api = app.test_client()
    bearer = {"Authorization": f"Bearer {token}"}
    install_id = api.get("/api/v1/environment", headers=bearer).get_json()["installId"]
    key = a_key(install_id, vendor)
    assert api.post("/api/v1/environment/license", headers=bearer, json={"productKey": key}).status_code == 200
    page = app.test_client()
    form = page.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    page.post("/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": csrf})
    assert page.get("/settings").status_code == 200, "the operator could not sign in"
    return {
        "api": lambda: api.get("/api/v1/environment", headers=bearer),
        "settings": lambda: page.get("/settings"),
        "apply": lambda: api.post("/api/v1/environment/license", headers=bearer,
                                  data=json.dumps({"productKey": key}),
                                  content_type="application/json"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", choices=["api", "settings", "apply"])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--limits", default="memory://")
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        request = build(folder, args.limits)[args.path]
        for _ in range(50):  # warm: imports, templates, connections
            assert request().status_code == 200
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(args.requests):
            request()
        profile.disable()
        stats = pstats.Stats(profile)
        stats.sort_stats(args.sort).print_stats(args.top)
        print(f"{stats.total_tt / args.requests * 1e6:.0f} µs per request (under the profiler), "
              f"{stats.total_calls / args.requests:.0f} Python function calls per request (a count that machine "
              "noise does not change: compare it across versions and configurations)")


if __name__ == "__main__":
    main()
