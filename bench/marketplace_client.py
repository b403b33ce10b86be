"""Market API client benchmark: the client's per-call overhead (signing and parsing) over loopback
HTTP, against a bare ``requests.Session().post`` to the same simulator with no signing.

    .venv/bin/python bench/marketplace_client.py [--requests 2000] [--rounds 5]

The simulator runs as its command line does (``python -m marketplace_adapter.simulator``), in its
own process, so this process's CPU time is the client's alone. Each case keeps one kept-alive
connection, and the cases are interleaved in rounds so that machine noise hits them alike. The
baseline's answer is the gateway's quick ``IncompleteSignature`` error; a signed call also makes
the simulator verify the signature and build a License, which shows in wall time, not in this
process's CPU time. So two ratios are printed: wall time per call, and client CPU per call. The
rows below take the client apart in-process (no HTTP): signing and preparing one request (the
URL that requests parses is long), parsing one answer, and the simulator's own work per call.
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The repository, not bench/ (whose http.py would stand in for the standard library's http).
sys.path[0] = str(REPO)

import requests  # noqa: E402

from bench._measure import measure  # noqa: E402
from bench._servers import free_port  # noqa: E402

from marketplace_adapter import MarketplaceClient  # noqa: E402
from marketplace_adapter.parsing import parse_license  # noqa: E402
from marketplace_adapter.simulator import (  # noqa: E402
    DEMO_ACCESS_KEY_ID,
    DEMO_ACCESS_KEY_SECRET,
    Simulator,
    demo_codes,
    inprocess_client,
)
from marketplace_adapter.simulator.wsgi import call_app, make_environ  # noqa: E402

CODE = "DEMO-AKU20-READY-7K3Q"
BASELINE = "bare requests.Session().post (baseline)"


def start_simulator(log_file) -> tuple[subprocess.Popen, str]:
    """The simulator's CLI on a free port; its request log goes to ``log_file``, not a pipe that
    would fill up and stall it."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-m", "marketplace_adapter.simulator", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=log_file, env=env, cwd=REPO)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return process, url
        except OSError:
            if process.poll() is not None:
                raise SystemExit("the simulator did not start; see its log")
            time.sleep(0.05)
    process.kill()
    raise SystemExit("the simulator did not start listening")


def plain_session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # loopback: no proxy, no .netrc lookups, the same for every case
    return session


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="calls per case")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryFile() as log_file:
        process, url = start_simulator(log_file)
        try:
            bare = plain_session()
            clients = {version: MarketplaceClient(DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET,
                                                  endpoint=url, signature_version=version,
                                                  timeout=5.0, session=plain_session())
                       for version in ("v1", "v3")}
            over_http = {
                BASELINE: lambda: bare.post(f"{url}/?LicenseCode={CODE}", timeout=5.0),
                "describe_license, V1 (signed, parsed)": lambda: clients["v1"].describe_license(CODE),
                "describe_license, V3 (signed, parsed)": lambda: clients["v3"].describe_license(CODE),
            }
            results = measure(over_http, args.requests, args.rounds)
        finally:
            process.terminate()
            process.wait(timeout=10)

    # The same work taken apart, in-process, with no HTTP at all.
    client = clients["v1"]
    sim = Simulator(demo_codes())
    local = inprocess_client(sim)
    answer = local.session.send(local._prepare("DescribeLicense", {"LicenseCode": CODE}))
    assert answer.status_code == 200, answer.text
    simulator_calls = signed_environs(local, args.requests + 100)
    parts = {
        "signing + preparing one request, V1": lambda: clients["v1"]._prepare(
            "DescribeLicense", {"LicenseCode": CODE}),
        "signing + preparing one request, V3": lambda: clients["v3"]._prepare(
            "DescribeLicense", {"LicenseCode": CODE}),
        "parsing one answer (JSON, License)": lambda: parse_one(client, answer),
        "the simulator's own work (for reference)": lambda: call_app(sim, simulator_calls.pop()),
    }
    in_process = measure(parts, args.requests, args.rounds)

    base_wall, base_cpu = results[BASELINE]
    print(f"{'over loopback HTTP':<46} {'µs/call':>8} {'ratio':>7} {'client CPU µs':>14} {'ratio':>7}")
    for name, (wall, cpu) in results.items():
        print(f"{name:<46} {wall * 1e6:>8.0f} {wall / base_wall:>6.2f}x "
              f"{cpu * 1e6:>14.0f} {cpu / base_cpu:>6.2f}x")
    print(f"{'in-process parts, no HTTP':<46} {'µs/call':>8} {'of base':>7}")
    for name, (wall, _) in in_process.items():
        print(f"{name:<46} {wall * 1e6:>8.1f} {wall / base_wall:>6.2f}x")
    overhead = results["describe_license, V1 (signed, parsed)"][1] - base_cpu
    print(f"client CPU per V1 call beyond the bare post: {overhead * 1e6:.0f} µs")


def parse_one(client: MarketplaceClient, response: requests.Response):
    """What the client does with an answer: read the JSON, classify it, build the License."""
    payload, request_id = client._interpret(response, "DescribeLicense", CODE)
    return parse_license(payload, market_tz=client.market_tz, requested_code=CODE,
                         request_id=request_id)


def signed_environs(client: MarketplaceClient, count: int) -> list[dict]:
    """WSGI environs of ``count`` signed DescribeLicense requests, each with its own nonce (the
    simulator refuses a replay), as the simulator's server would build them."""
    environs = []
    for _ in range(count):
        prepared = client._prepare("DescribeLicense", {"LicenseCode": CODE})
        environs.append(make_environ(
            method="POST", path="/", query=prepared.url.split("?", 1)[1],
            headers=list(prepared.headers.items()), body=b"", server_name="127.0.0.1",
            server_port=80))
    return environs


if __name__ == "__main__":
    main()
