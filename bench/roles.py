"""Start-up time and memory per role: gunicorn started as production starts it, one role at a time.

    .venv/bin/python bench/roles.py [--roles environment,vendor,both] [--starts 3] [--warmup 200]

For each role: a temporary instance folder and SQLite database, its schema made first
(``flask --app wsgi db upgrade``, and for the vendor side ``license keygen``, as a deployment does
before it serves), then ``gunicorn -c gunicorn.conf.py wsgi:app`` with one worker on a free
loopback port (the settings of docs/configuration.md: secrets set, so not the demo;
``LICENSE_INSECURE_HTTP=1`` for plain HTTP; the environment trusts one vendor key, the vendor has
marketplace credentials, ``both`` asks the in-process simulator). Measured:

- start-up: from spawning gunicorn to the first 200 of ``/healthz`` (median of ``--starts``);
- memory: the VmRSS and the Pss (``/proc/PID/smaps_rollup``: shared pages counted once over the
  processes that share them) of the master and of each worker, after ``--warmup`` requests to
  ``/healthz``, ``/readyz`` and ``/login``; "total Pss" is what the server takes in all;
- in a fresh interpreter per role: importing ``webapp`` (``create_app``) and then calling
  ``create_app()`` as wsgi.py does, the modules loaded, and whether the other side's modules
  (``webapp.vendor_side``, ``webapp.environment``, the Market API client or simulator) were.
"""
from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The repository, not bench/ (whose http.py would stand in for the standard library's http).
sys.path[0] = str(REPO)

from bench._servers import BIN, clean_environ, flask, free_port  # noqa: E402

PROBE = r'''
import json, sys, time
started = time.perf_counter()
from webapp import create_app
imported = time.perf_counter()
app = create_app()
created = time.perf_counter()
names = sorted(sys.modules)
def loaded(prefix):
    return sorted(n for n in names if n == prefix or n.startswith(prefix + "."))
print(json.dumps({
    "import_ms": (imported - started) * 1e3, "create_app_ms": (created - imported) * 1e3,
    "modules": len(names),
    "vendor_side": len(loaded("webapp.vendor_side")), "environment": len(loaded("webapp.environment")),
    "market_client": len(loaded("marketplace_adapter")), "simulator": len(loaded("marketplace_adapter.simulator")),
    "heavy": [n for n in ("requests", "urllib3", "prometheus_client", "redis", "psycopg", "babel",
                          "flask_limiter", "flask_wtf", "wtforms", "jinja2", "sqlalchemy", "alembic",
                          "flask_migrate", "cryptography", "gunicorn") if n in sys.modules],
}))
'''


def role_environ(role: str, folder: Path) -> dict[str, str]:
    env = clean_environ(
        PYTHONPATH=str(REPO), LICENSE_ROLE=role, SECRET_KEY="bench-secret-key-0123456789",
        LICENSE_DATA_KEY="bench-data-key-0123456789abcdef", LICENSE_SIGNING_KEY_PASSPHRASE="bench passphrase",
        DATABASE_URL=f"sqlite:///{folder / 'bench.db'}", LICENSE_INSTANCE_PATH=str(folder / "instance"),
        LICENSE_INSECURE_HTTP="1", WEB_CONCURRENCY="1", RATELIMIT_STORAGE_URI="memory://",
    )
    if role == "vendor":
        # As production runs it: marketplace credentials, so the real client (nothing is asked of
        # the marketplace by these requests), not the in-process simulator of the demo.
        env.update(ALIBABA_CLOUD_ACCESS_KEY_ID="bench-id", ALIBABA_CLOUD_ACCESS_KEY_SECRET="bench-secret",
                   MARKETPLACE_ENDPOINT="http://127.0.0.1:9", MARKETPLACE_PRODUCT_CODE="cmgj00demo01",
                   MARKETPLACE_SPECS='{"aku-20": 20}')
    if role == "environment":
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        from webapp.product_key import public_key_pem

        keys = folder / "public-keys.json"
        keys.write_text(json.dumps({"2026-11-a": public_key_pem(Ed25519PrivateKey.generate().public_key())}))
        env["LICENSE_PUBLIC_KEYS"] = str(keys)
    return env


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return sorted(found)


def memory_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, Pss) in KiB."""
    rss = pss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            pss = int(line.split()[1])
    return rss, pss


def get(url: str, timeout: float = 2.0) -> int:
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.request("GET", parts.path)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def serve_once(env: dict, folder: Path, warmup: int) -> dict:
    port = free_port()
    log = open(folder / f"gunicorn-{port}.log", "w")
    started = time.perf_counter()
    proc = subprocess.Popen([str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"], cwd=REPO,
                            env={**env, "LICENSE_BIND": f"127.0.0.1:{port}"}, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"gunicorn exited {proc.returncode}: see {log.name}:\n"
                                 + Path(log.name).read_text()[-2000:])
            try:
                if get(base + "/healthz", timeout=1.0) == 200:
                    break
            except OSError:
                pass
            if time.perf_counter() - started > 120:
                raise SystemExit("gunicorn did not answer /healthz within 120 s")
            time.sleep(0.005)
        up = time.perf_counter() - started
        statuses = {}
        for n in range(warmup):
            path = ("/healthz", "/readyz", "/login")[n % 3]
            status = get(base + path, timeout=30)
            statuses[path] = status
        master = memory_kib(proc.pid)
        workers = {pid: memory_kib(pid) for pid in children(proc.pid)}
        return {"startup_s": up, "master": master, "workers": workers, "statuses": statuses}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def probe(env: dict) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)
    if done.returncode != 0:
        raise SystemExit(f"the import probe failed: {done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roles", default="environment,vendor,both")
    parser.add_argument("--starts", type=int, default=3, help="gunicorn starts per role (median)")
    parser.add_argument("--warmup", type=int, default=200, help="requests before memory is read")
    args = parser.parse_args()

    rows = []
    for role in args.roles.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            env = role_environ(role, folder)
            flask(env, "db", "upgrade")
            if role in ("vendor", "both"):
                flask(env, "license", "keygen")
            probes = [probe(env) for _ in range(args.starts)]
            runs = [serve_once(env, folder, args.warmup) for _ in range(args.starts)]
        rows.append((role, probes, runs))

    print(f"{'role':<12} {'start-up':>9} {'import':>8} {'create_app':>11} {'modules':>8} "
          f"{'worker RSS':>11} {'worker Pss':>11} {'master RSS':>11} {'master Pss':>11} {'total Pss':>10}")
    for role, probes, runs in rows:
        startup = statistics.median(r["startup_s"] for r in runs)
        imp = statistics.median(p["import_ms"] for p in probes)
        make = statistics.median(p["create_app_ms"] for p in probes)
        last = runs[-1]
        worker_rss = [rss for rss, _ in last["workers"].values()]
        worker_pss = [pss for _, pss in last["workers"].values()]
        print(f"{role:<12} {startup * 1e3:>7.0f}ms {imp:>6.0f}ms {make:>9.0f}ms "
              f"{probes[-1]['modules']:>8} {max(worker_rss) / 1024:>8.1f}MiB {max(worker_pss) / 1024:>8.1f}MiB "
              f"{last['master'][0] / 1024:>8.1f}MiB {last['master'][1] / 1024:>8.1f}MiB "
              f"{(last['master'][1] + sum(worker_pss)) / 1024:>7.1f}MiB")
    print()
    for role, probes, runs in rows:
        p = probes[-1]
        starts = ", ".join(f"{r['startup_s'] * 1e3:.0f}" for r in runs)
        print(f"{role}: start-ups {starts} ms; "
              f"statuses after warm-up {runs[-1]['statuses']}; modules of webapp.vendor_side "
              f"{p['vendor_side']}, webapp.environment {p['environment']}, marketplace_adapter "
              f"{p['market_client']} (simulator {p['simulator']}); loaded: {', '.join(p['heavy'])}")


if __name__ == "__main__":
    main()
