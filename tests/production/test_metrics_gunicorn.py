"""`/metrics` under gunicorn with two workers (prometheus_client's multiprocess mode): requests
served by both workers, and one scrape, whichever worker answers it, sums them.

The standalone app runs as the demo (its own SQLite in a temporary instance folder) on a Unix
socket, started with `gunicorn -c gunicorn.conf.py -w 2`, so the hooks of gunicorn.conf.py are
those under test. Which worker serves what is made certain, not left to chance: gunicorn's sync
workers serve one connection at a time, so a request whose body has not all arrived holds the
worker that accepted it, and every other request goes to the other worker until the body is sent.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
INSTALL_A = "0123456789abcdef0123456789abcdef"
INSTALL_B = "fedcba9876543210fedcba9876543210"
# Settings of the machine's environment that would change the app under test.
OURS = ("LICENSE_", "SECRET_KEY", "DATABASE_URL", "RATELIMIT_", "PROMETHEUS_", "ALIBABA_", "MARKETPLACE_",
        "WEB_CONCURRENCY", "GUNICORN_CMD_ARGS", "TRUSTED_PROXIES")


def wait_until(condition, what: str, seconds: float = 60.0):
    """Poll `condition` until it holds (its value) or `seconds` pass (a failure naming `what`)."""
    deadline = time.monotonic() + seconds
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting for {what} after {seconds:.0f}s")
        time.sleep(0.05)


def request_bytes(method: str, path: str, body: bytes = b"", content_type: str = "application/json") -> bytes:
    head = (f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


def read_response(conn: socket.socket) -> tuple[int, bytes]:
    chunks = []
    while chunk := conn.recv(65536):
        chunks.append(chunk)
    conn.close()
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def connect(path: Path) -> socket.socket:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(60)
    conn.connect(str(path))
    return conn


def http(path: Path, method: str, url: str, body: bytes = b"") -> tuple[int, bytes]:
    conn = connect(path)
    conn.sendall(request_bytes(method, url, body))
    return read_response(conn)


def redeem_body(code: str, install_id: str) -> bytes:
    return json.dumps({"authorizationCode": code, "installId": install_id}).encode()


def samples_of(text: str) -> dict:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def redemptions(samples: dict) -> dict[str, float]:
    return {dict(labels)["result"]: value for (name, labels), value in samples.items()
            if name == "license_redemptions_total"}


def per_worker_redemptions(directory: Path, scratch: Path) -> dict[int, float]:
    """Each worker's own counts, read from its file alone (prometheus_client's reader)."""
    found = {}
    for counter_file in directory.glob("counter_*.db"):
        pid = int(counter_file.stem.split("_")[1])
        alone = scratch / str(pid)
        alone.mkdir(parents=True)
        shutil.copy(counter_file, alone / counter_file.name)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(alone))
        total = sum(redemptions(samples_of(generate_latest(registry).decode())).values())
        if total:
            found[pid] = total
    return found


@pytest.fixture
def gunicorn(tmp_path):
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    # A previous run's file, unreadable: gunicorn.conf.py's on_starting must clear it.
    (metrics_dir / "counter_4194304.db").write_bytes(b"left over by an earlier run")
    sock = tmp_path / "gunicorn.sock"
    env = {name: value for name, value in os.environ.items() if not name.startswith(OURS)}
    env.update(LICENSE_INSTANCE_PATH=str(tmp_path / "instance"), LICENSE_METRICS="1",
               LICENSE_LOG_FORMAT="json", PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "-w", "2", "-b", f"unix:{sock}",
             "--timeout", "60", "--no-control-socket", "wsgi:app"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        def listening():
            if process.poll() is not None:
                raise AssertionError(f"gunicorn exited ({process.returncode}):\n{log_path.read_text()}")
            try:
                connect(sock).close()
                return True
            except OSError:
                return False

        wait_until(listening, "gunicorn's socket")
        yield sock, metrics_dir, log_path
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_two_workers_count_into_one_scrape(gunicorn, tmp_path):
    sock, metrics_dir, log_path = gunicorn
    # Worker 1 takes this request and waits for the rest of its body...
    held = connect(sock)
    body = redeem_body("DEMO-AKU20-READY-7K3Q", INSTALL_A)
    whole = request_bytes("POST", "/api/v1/redeem", body)
    held.sendall(whole[:-10])
    # ...so that worker 2 serves all of these, one after the other.
    answers = [http(sock, "POST", "/api/v1/redeem", redeem_body(code, install))[0] for code, install in (
        ("DEMO-EXPIRED-5R1N", INSTALL_B), ("DEMO-DISCARD-3H7Z", INSTALL_B),
        ("NO-SUCH-CODE-0001", INSTALL_B), ("DEMO-AKU40-READY-9M2X", INSTALL_B))]
    assert answers == [422, 422, 404, 201]
    held.sendall(whole[-10:])
    status, answer = read_response(held)
    assert status == 201, answer

    workers = per_worker_redemptions(metrics_dir, tmp_path / "per-worker")
    assert sorted(workers.values()) == [1, 4], workers  # both workers served, each its share

    for _ in range(3):  # whichever worker answers the scrape, it sums both
        status, text = http(sock, "GET", "/metrics")
        assert status == 200
        samples = samples_of(text.decode())
        assert redemptions(samples) == {"ok": 2, "code_expired": 1, "code_discarded": 1, "code_not_found": 1}
        assert samples[("license_keys_issued_total", (("channel", "alibaba-marketplace"), ("type", "subscription")))] == 2
        calls = {dict(labels)["result"]: value for (name, labels), value in samples.items()
                 if name == "license_marketplace_calls_total" and dict(labels)["action"] == "DescribeLicense"}
        assert calls["ok"] == 4 and calls["License.NotFound"] == 1
        assert samples[("license_aku_licensed", ())] == 14  # the demo environment's trial

    # A worker that exits takes its live gauge with it (child_exit), and leaves its counts.
    live = {int(p.stem.rsplit("_", 1)[1]) for p in metrics_dir.glob("gauge_livesum_*.db")}
    assert set(workers) <= live
    gone = next(iter(workers))
    os.kill(gone, signal.SIGTERM)
    wait_until(lambda: not (metrics_dir / f"gauge_livesum_{gone}.db").exists(), "the worker's live gauge to go")
    status, text = http(sock, "GET", "/metrics")
    assert status == 200 and sum(redemptions(samples_of(text.decode())).values()) == 5

    # The app's own request lines are JSON, with a request id each.
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    redeemed = [line for line in lines if line["logger"] == "webapp.requests" and line.get("route") == "/api/v1/redeem"]
    assert len(redeemed) == 5 and all(line["request_id"] and line["duration_ms"] >= 0 for line in redeemed)
    assert "NO-SUCH-CODE-0001" not in log_path.read_text()
