"""Hot-path benchmark: reading the license, against a bare Flask route in the same app.

    .venv/bin/python bench/hot_path.py [--requests 2000]

Every case runs through the same WSGI stack (the app's middleware, session, CSRF, security
headers) with Werkzeug's test client, in one process, interleaved in rounds so that machine
noise hits all cases alike. It prints the time per request and the ratio to the bare route:
the cost the license adds, not an absolute number that depends on the machine.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

# The repository, not bench/ (whose http.py would stand in for the standard library's http).
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench._measure import measure  # noqa: E402
from webapp import create_app  # noqa: E402
from webapp.auth import create_token, create_user  # noqa: E402
from webapp.config import TestConfig  # noqa: E402
from webapp.database import db  # noqa: E402


def build_app(folder: str):
    config = TestConfig().__dict__.copy()
    config.update(
        TESTING=False,
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{folder}/bench.db",
        LICENSE_INSTANCE_PATH=folder,
        LICENSE_ROLE="environment",
    )
    app = create_app(config)

    @app.get("/bench/bare")
    def bare():
        return {"ok": True}

    with app.app_context():
        db.create_all()
        user = create_user("bench@example.com", "bench password 1", "operator")
        token = create_token(user)
        db.session.commit()
    return app, token


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per case")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        app, token = build_app(folder)
        api = app.test_client()
        page = app.test_client()
        page.post("/login", data={"email": "bench@example.com", "password": "bench password 1"})
        bearer = {"Authorization": f"Bearer {token}"}

        from webapp.environment import check_capacity

        def capacity_check():
            with app.test_request_context("/"):
                check_capacity(1)

        cases = {
            "bare Flask route (baseline)": lambda: api.get("/bench/bare"),
            "GET /api/v1/environment": lambda: api.get("/api/v1/environment", headers=bearer),
            "GET /settings (page)": lambda: page.get("/settings"),
            "check_capacity() in a request context": capacity_check,
        }
        results = measure(cases, args.requests, args.rounds, warmup=20)

        baseline = results["bare Flask route (baseline)"][0]
        print(f"{'case':<42} {'µs/request':>11} {'ratio':>7}")
        for name, (wall, _cpu) in results.items():
            print(f"{name:<42} {wall * 1e6:>11.0f} {wall / baseline:>6.2f}x")


if __name__ == "__main__":
    main()
