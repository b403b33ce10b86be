"""Issuing benchmark: the vendor side's whole issue flow over loopback HTTP to the simulator.

    .venv/bin/python bench/issue.py [--issues 300] [--signature-version v1] [--profile]

The simulator runs as its command line does (``python -m marketplace_adapter.simulator``), in its
own process, on a free loopback port; ``--issues`` new INACTIVATED codes are added to it through
its control interface (``POST /_control/codes``). A vendor app (role ``vendor``, a temporary SQLite
database, a development signing key) is configured as production is, with marketplace
credentials and ``MARKETPLACE_ENDPOINT`` pointing at the simulator, and issues one key per code,
each for its own install ID, through ``issuing.issue_from_code``: DescribeLicense, the binding,
ActivateLicense, then the key signed and stored; each issue in its own app context, as a request
has. It prints keys per second and the TCP connections the app opened to the simulator per 100
issues, counted as they are opened (every socket urllib3 connects goes through
``urllib3.util.connection.create_connection``, which is wrapped for the run), not inferred.
``--profile`` prints a cProfile of the issues, by cumulative time.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The repository, not bench/ (whose http.py would stand in for the standard library's http).
sys.path[0] = str(REPO)

import urllib3.util.connection  # noqa: E402

from bench.marketplace_client import plain_session, start_simulator  # noqa: E402
from marketplace_adapter.simulator import (  # noqa: E402
    DEMO_ACCESS_KEY_ID,
    DEMO_ACCESS_KEY_SECRET,
    DEMO_PRODUCT_CODE,
)
from webapp import create_app  # noqa: E402
from webapp.config import TestConfig  # noqa: E402
from webapp.database import db  # noqa: E402


class ConnectionCounter:
    """Counts the TCP connections urllib3 opens in this process (each goes through
    ``urllib3.util.connection.create_connection``), by destination port."""

    def __init__(self) -> None:
        self.opened: dict[int, int] = {}
        self._real = urllib3.util.connection.create_connection

    def __enter__(self) -> "ConnectionCounter":
        def counting(address, *args, **kwargs):
            self.opened[address[1]] = self.opened.get(address[1], 0) + 1
            return self._real(address, *args, **kwargs)

        urllib3.util.connection.create_connection = counting
        return self

    def __exit__(self, *exc: object) -> None:
        urllib3.util.connection.create_connection = self._real


def add_codes(url: str, count: int, run: str) -> list[str]:
    """``count`` new INACTIVATED 20-AKU codes of the demo product, through the control interface."""
    codes = [f"BENCH-{run}-{n:05d}" for n in range(count)]
    body = {"codes": [{
        "code": code, "status": "INACTIVATED", "product_code": DEMO_PRODUCT_CODE,
        "sku_id": f"{DEMO_PRODUCT_CODE}-prepay", "specification": "aku-20",
        "expires_at": "2099-01-01T00:00:00Z", "ali_uid": 1234567890130000 + n,
        "order_ids": [f"3{n:012d}"],
    } for n, code in enumerate(codes)]}
    with plain_session() as control:
        answer = control.post(f"{url}/_control/codes", json=body, timeout=30)
    answer.raise_for_status()
    return codes


def build_app(folder: str, url: str, version: str):
    config = TestConfig().__dict__.copy()
    config.update(
        TESTING=False,
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{folder}/bench.db",
        LICENSE_INSTANCE_PATH=folder,
        LICENSE_ROLE="vendor",
        ALIBABA_CLOUD_ACCESS_KEY_ID=DEMO_ACCESS_KEY_ID,
        ALIBABA_CLOUD_ACCESS_KEY_SECRET=DEMO_ACCESS_KEY_SECRET,
        MARKETPLACE_ENDPOINT=url,
        MARKETPLACE_SIGNATURE_VERSION=version,
        MARKETPLACE_PRODUCT_CODE=DEMO_PRODUCT_CODE,
        MARKETPLACE_SPECS='{"aku-20": {"aku": 20, "name": "AutoMQ 20 AKU"}, "aku-40": 40}',
        MARKETPLACE_ACTIVATE="required",
    )
    app = create_app(config)
    with app.app_context():
        db.create_all()
        from webapp.vendor_side import signing_keys

        signing_keys.generate(dev=True)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=10, help="issues before the measured ones")
    parser.add_argument("--signature-version", default="v1", choices=("v1", "v3"))
    parser.add_argument("--db-dir", default=None,
                        help="where the SQLite file goes (default: a temporary folder; /dev/shm takes "
                             "the disk's fsync out of the figure, leaving the CPU's work)")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--sort", default="cumulative", help="the profile's order (cumulative, tottime)")
    args = parser.parse_args()

    from webapp.vendor_side.issuing import issue_from_code

    with tempfile.TemporaryDirectory(dir=args.db_dir) as folder, tempfile.TemporaryFile() as log_file:
        process, url = start_simulator(log_file)
        port = int(url.rsplit(":", 1)[1])
        try:
            codes = add_codes(url, args.warmup + args.issues, uuid.uuid4().hex[:6].upper())
            app = build_app(folder, url, args.signature_version)
            install_ids = [uuid.uuid4().hex for _ in codes]

            def issue(n: int) -> None:
                with app.app_context():
                    issued = issue_from_code(codes[n], install_ids[n], actor="bench")
                    assert issued.created and issued.key.install_id == install_ids[n]

            profiler = cProfile.Profile() if args.profile else None
            with ConnectionCounter() as counter:
                for n in range(args.warmup):
                    issue(n)
                warm = counter.opened.get(port, 0)
                if profiler:
                    profiler.enable()
                wall, cpu = time.perf_counter(), time.process_time()
                for n in range(args.warmup, args.warmup + args.issues):
                    issue(n)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                if profiler:
                    profiler.disable()
                measured = counter.opened.get(port, 0) - warm
            with plain_session() as control:
                served = control.get(f"{url}/_control/requests", timeout=30).json()["requests"]
        finally:
            process.terminate()
            process.wait(timeout=10)

    actions: dict[str, int] = {}
    for call in served:
        actions[call.get("action", "?")] = actions.get(call.get("action", "?"), 0) + 1
    print(f"issues: {args.issues} (after {args.warmup} to warm up), signature {args.signature_version}")
    print(f"keys per second: {args.issues / wall:.1f} ({wall / args.issues * 1e3:.2f} ms per issue, "
          f"{cpu / args.issues * 1e3:.2f} ms of this process's CPU)")
    total = args.warmup + args.issues
    print(f"TCP connections opened to the simulator: {warm} while warming up, {measured} during the "
          f"{args.issues} issues; {warm + measured} for all {total} = "
          f"{(warm + measured) * 100 / total:.2f} per 100 issues (target 1)")
    print(f"Market API calls the simulator served: {actions}")
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(30)
        print(out.getvalue())


if __name__ == "__main__":
    main()
