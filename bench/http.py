"""The environment's hot paths over HTTP, as ratios to a bare Flask route, with wrk and gunicorn.

    .venv/bin/python bench/http.py [--rounds 3] [--duration 5] [--limits memory,redis] [--before CHECKOUT]

gunicorn servers run side by side with the same settings (`gunicorn.conf.py`: 2 sync workers
each here, its access log, keep-alive): `bench/bare_app.py`, a Flask app whose one route returns
"hello", and the license app (role `environment`, SQLite, its production secrets) twice, once with
its rate limits in memory and once in a local Redis (`scripts/start-redis`, started and stopped
here), as several workers share them in production. wrk (Debian's package) measures requests per
second: each round takes every path in turn, the bare route first and then the path on each
license app, and each figure is the median of at least 3 rounds' ratios (path / bare route of the
same round). The paths:

- `GET /api/v1/environment` with an operator's bearer token;
- the Settings page with a signed-in operator's session cookie;
- `POST /api/v1/environment/license` with the product key that is already active.

A run with any answer other than the one expected (a 401, a 429, a 500) stops the benchmark: a
fast error is not a fast path. `--before` serves the license app of another checkout as well (the
same database; e.g. `git worktree add /tmp/before <commit>`), so a change is measured against the
code before it in the same rounds, under the same noise. Needs `wrk` and `redis-server` (`apt-get install wrk redis-server`).
"""
from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The repository, not bench/: this file's name would stand in for the standard library's http.
sys.path[0] = str(REPO)

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from datetime import datetime, timedelta, timezone  # noqa: E402

import requests  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from bench._servers import BIN, clean_environ, flask, free_port  # noqa: E402
from webapp import product_key  # noqa: E402

PASSWORD = "bench password 1"
EMAIL = "operator@example.com"
KID = "bench-2026-12"
WORKERS = 2


class Server:
    """gunicorn on a free loopback port, with `bench/gunicorn_bench.py`; its log in `folder`."""

    def __init__(self, name: str, app: str, env: dict, folder: Path, cwd: Path = REPO) -> None:
        self.name = name
        self.port = free_port()
        self.log = open(folder / f"{name}.log", "w")
        env = {**env, "LICENSE_BIND": f"127.0.0.1:{self.port}", "BENCH_WORKERS": str(WORKERS)}
        self.proc = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", str(REPO / "bench" / "gunicorn_bench.py"), app],
            cwd=cwd, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.wait_ready()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"gunicorn ({self.name}) exited {self.proc.returncode}; see {self.log.name}")
            ready = Path(self.log.name).read_text().count("Worker ready")
            if ready >= WORKERS:
                return
            time.sleep(0.1)
        sys.exit(f"gunicorn ({self.name}) did not start its workers; see {self.log.name}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def start_redis() -> tuple[str, str]:
    out = subprocess.run([str(REPO / "scripts" / "start-redis")], capture_output=True, text=True, check=True)
    values = dict(re.findall(r"export (\w+)=(\S+)", out.stdout))
    return values["TEST_REDIS_URL"], values["TEST_REDIS_DIR"]


def stop_redis(folder: str) -> None:
    try:
        os.kill(int(Path(folder, "redis.pid").read_text()), signal.SIGTERM)
    except (OSError, ValueError):
        pass


def redis_commands(url: str) -> dict[str, int]:
    """`INFO commandstats`: calls per command since the server started."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        return {name.removeprefix("cmdstat_"): stats["calls"]
                for name, stats in client.info("commandstats").items()}
    finally:
        client.close()


def wrk(url: str, duration: int, connections: int, script: Path | None = None,
        headers: dict[str, str] | None = None) -> float:
    """Requests per second; stops the benchmark when any answer was not 2xx or 3xx."""
    command = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{duration}s"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    if script is not None:
        command += ["-s", str(script)]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    if bad or (errors and re.search(r"(read|write|timeout) [1-9]", errors.group(1))):
        sys.exit(f"wrk saw failed answers on {url}:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def post_script(folder: Path, name: str, path: str, body: str, headers: dict[str, str]) -> Path:
    script = folder / name
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(body)}", f'wrk.path = "{path}"']
    lines += [f'wrk.headers[{json.dumps(name)}] = {json.dumps(value)}' for name, value in headers.items()]
    script.write_text("\n".join(lines) + "\n")
    return script


def prepare(folder: Path) -> tuple[dict, str, Ed25519PrivateKey]:
    """The environment's database (the README's commands), an operator and its API token, and
    the vendor public key the environment trusts."""
    vendor = Ed25519PrivateKey.generate()
    env = clean_environ(
        SECRET_KEY="bench-secret-key", LICENSE_DATA_KEY="bench-data-key-0123456789abcdef",
        DATABASE_URL=f"sqlite:///{folder / 'environment.db'}", LICENSE_ROLE="environment",
        LICENSE_INSTANCE_PATH=str(folder / "instance"), LICENSE_INSECURE_HTTP="1",
        LICENSE_PUBLIC_KEYS=json.dumps({KID: product_key.public_key_pem(vendor.public_key())}))
    flask(env, "db", "upgrade")
    flask(env, "users", "create", EMAIL, "--role", "operator", "--password-stdin", input=PASSWORD + "\n")
    token = flask(env, "users", "token", EMAIL).strip()
    return env, token, vendor


def a_key(install_id: str, vendor: Ed25519PrivateKey) -> str:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    terms = product_key.License(
        id=str(uuid.uuid4()), seq=1, type="subscription", channel="alibaba-marketplace",
        reference="****7Q2K", product="AutoMQ for Kafka ( BYOC Monthly Subscription License )",
        aku=40, issued_at=now - timedelta(minutes=5), not_before=now - timedelta(minutes=5),
        expires_at=now + timedelta(days=30))
    return product_key.sign(install_id, terms, KID, vendor)


def sign_in(server: Server) -> str:
    """A signed-in operator's session cookie (the login form's CSRF token, then the form)."""
    session = requests.Session()
    page = session.get(server.url("/login"), timeout=30).text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    session.post(server.url("/login"), data={"email": EMAIL, "password": PASSWORD, "csrf_token": token},
                 timeout=30)
    settings = session.get(server.url("/settings"), timeout=30, allow_redirects=False)
    if settings.status_code != 200:
        sys.exit(f"the operator could not sign in: /settings answered {settings.status_code}")
    return "; ".join(f"{c.name}={c.value}" for c in session.cookies)


def sign_in_and_apply(app: Server, token: str, vendor, keys: dict) -> tuple[dict, str, str]:
    """The product key applied (once for every server: they share the database), then sent again
    to check it is "already active"; an operator's session cookie."""
    bearer = {"Authorization": f"Bearer {token}"}
    doc = requests.get(app.url("/api/v1/environment"), headers=bearer, timeout=30)
    doc.raise_for_status()
    key = keys.setdefault("key", a_key(doc.json()["installId"], vendor))
    for _ in range(2):
        applied = requests.post(app.url("/api/v1/environment/license"), headers=bearer,
                                json={"productKey": key}, timeout=30)
        applied.raise_for_status()
    if not applied.json().get("alreadyActive"):
        sys.exit(f"the key applied twice was not 'already active': {applied.text[:300]}")
    return bearer, key, sign_in(app)


def run(args, folder: Path, env: dict, token: str, vendor) -> dict:
    """Every server at once: the bare route and one license app per kind of limits. Each round
    measures, for each path, the bare route and then the path on each license app, so the
    configurations alternate under the same machine noise."""
    limits = [m.strip() for m in args.limits.split(",") if m.strip()]
    checkouts = {"": REPO, **({" (before)": Path(args.before).resolve()} if args.before else {})}
    modes = [limit + label for label in checkouts for limit in limits]
    servers: list[Server] = []
    redis = None
    try:
        bare = Server("bare", "bench.bare_app:app", env, folder)
        servers.append(bare)
        apps = {}
        for label, checkout in checkouts.items():
            for limit in limits:
                storage = "memory://"
                if limit == "redis":
                    redis = redis or start_redis()
                    storage = redis[0]
                mode = limit + label
                apps[mode] = Server(f"license-{limit}{'-before' if label else ''}", "wsgi:app",
                                    {**env, "RATELIMIT_STORAGE_URI": storage}, folder, cwd=checkout)
                servers.append(apps[mode])
        keys: dict = {}
        cases: dict[str, dict] = {}
        for mode, app in apps.items():
            bearer, key, cookie = sign_in_and_apply(app, token, vendor, keys)
            script = post_script(folder, f"post-{len(cases)}.lua", "/api/v1/environment/license",
                                 json.dumps({"productKey": key}), {**bearer, "Content-Type": "application/json"})
            cases[mode] = {
                "GET /api/v1/environment": dict(url=app.url("/api/v1/environment"), headers=bearer),
                "Settings page": dict(url=app.url("/settings"), headers={"Cookie": cookie}),
                "POST /api/v1/environment/license (already active)": dict(
                    url=app.url("/api/v1/environment/license"), script=script),
            }
        before = redis_commands(redis[0]) if redis else {}
        paths = list(next(iter(cases.values())))
        rates = {mode: {path: [] for path in ["bare Flask route", *paths]} for mode in modes}
        ratios = {mode: {path: [] for path in paths} for mode in modes}
        for number in range(1, args.rounds + 1):
            print(f"round {number} of {args.rounds}", flush=True)
            for path in paths:
                baseline = wrk(bare.url("/"), args.duration, args.connections)
                for mode in modes:
                    measured = wrk(duration=args.duration, connections=args.connections, **cases[mode][path])
                    rates[mode]["bare Flask route"].append(baseline)
                    rates[mode][path].append(measured)
                    ratios[mode][path].append(measured / baseline)
        if redis:
            after = redis_commands(redis[0])
            used = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
            print(f"Redis commands during the runs: {used or 'none'}")
        return {mode: (ratios[mode], rates[mode]) for mode in modes}
    finally:
        for server in servers:
            server.stop()
        if redis:
            stop_redis(redis[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (at least 3)")
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=8, help="wrk's open connections")
    parser.add_argument("--limits", default="memory,redis", help="memory, redis or both (memory,redis)")
    parser.add_argument("--before", metavar="CHECKOUT", help="also serve the license app from this other "
                        "checkout (e.g. a `git worktree` of an earlier commit), side by side in the same rounds")
    args = parser.parse_args()
    if args.rounds < 3:
        parser.error("--rounds must be at least 3: each figure is a median")
    for tool in ("wrk", "redis-server"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found: apt-get install wrk redis-server")

    with tempfile.TemporaryDirectory(prefix="license-bench-", ignore_cleanup_errors=True) as name:
        folder = Path(name)
        env, token, vendor = prepare(folder)
        print(f"{args.rounds} rounds of {args.duration} s per path and server, {args.connections} "
              f"connections, {WORKERS} gunicorn workers per server; limits in {args.limits}", flush=True)
        results = run(args, folder, env, token, vendor)
        print()
        print(f"{'path':<52} " + " ".join(f"{f'limits in {m}':>27}" for m in results))
        names = list(next(iter(results.values()))[1])
        for name in names:
            cells = []
            for ratios, rates in results.values():
                rate = statistics.median(rates[name])
                cells.append(f"{rate:>8.0f}/s" + (f" {statistics.median(ratios[name]):>5.2f}x"
                                                  f" ({min(ratios[name]):.2f}-{max(ratios[name]):.2f})"
                                                  if name in ratios else " " * 18))
            print(f"{name:<52} " + " ".join(f"{c:>27}" for c in cells))
        print(json.dumps({limits: {name: round(statistics.median(r), 3) for name, r in ratios.items()}
                          for limits, (ratios, _) in results.items()}))


if __name__ == "__main__":
    main()
