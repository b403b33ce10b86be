"""A gunicorn worker killed (SIGKILL) between the steps of an issue (issue 10).

The Market API simulator runs as a server of its own with a `slow` fault on ActivateLicense: it
activates the code, then holds its answer. The worker redeeming the code has by then committed its
claim on the code (step 2) and waits in step 3; the test finds that worker by its connection to
the simulator and kills it with SIGKILL: no answer, no cleanup, no rollback. Then:

- the buyer gets no answer; gunicorn replaces the worker;
- the code's binding is `pending` under the dead worker's claim, no key was issued;
- asked again at once, the code is answered `issuing_in_progress` (409): a fresh claim is never
  taken over, whoever holds it;
- once the claim is older than its timeout (two minutes; the test ages it in the database rather
  than wait), the next attempt takes it over and issues the key: one key (seq 1), the binding
  `bound`, no claim left, the marketplace not asked to activate again;
- the audit log has every step: the activation the dead worker made is recorded by the attempt
  that found it done (`code_activated`), then `code_bound` and `key_issued`, with no id missing.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

from marketplace_adapter.simulator import DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET, DEMO_PRODUCT_CODE, DEMO_SPECS

from .conftest import ROOT, deployment, free_port, wait_until

CODE = "DEMO-AKU20-READY-7K3Q"  # INACTIVATED: issuing it activates it
INSTALL = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def market(tmp_path):
    """`python -m marketplace_adapter.simulator` on a free port, with the demo codes."""
    port = free_port()
    with open(tmp_path / "simulator.log", "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "marketplace_adapter.simulator", "--port", str(port)],
                                cwd=ROOT, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"

    def answers():
        if proc.poll() is not None:
            pytest.fail(f"the simulator exited {proc.returncode}: {(tmp_path / 'simulator.log').read_text()}")
        try:
            return requests.get(url + "/_control/codes", timeout=5).ok
        except requests.ConnectionError:
            return False

    wait_until(answers, "the simulator to answer")
    yield port
    proc.kill()
    proc.wait()


def sockets_to(port: int) -> set[str]:
    """Inodes of the established TCP connections to 127.0.0.1:`port`."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[2].split(":")[1], 16) == port and fields[3] == "01":
            found.add(fields[9])
    return found


def connected_to(pids: set[int], port: int) -> set[int]:
    """Which of `pids` hold a connection to 127.0.0.1:`port`."""
    inodes = sockets_to(port)
    holders = set()
    for pid in pids:
        try:
            links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            continue
        if any(link.startswith("socket:[") and link[8:-1] in inodes for link in links):
            holders.add(pid)
    return holders


def redeem(server):
    return requests.post(server.url("/api/v1/redeem"), json={"authorizationCode": CODE, "installId": INSTALL},
                         timeout=60)


def test_a_worker_killed_between_the_steps_of_an_issue(tmp_path, pg_url, redis_url, market, serve):
    vendor = deployment(
        tmp_path, pg_url, redis_url, WEB_CONCURRENCY=2,
        ALIBABA_CLOUD_ACCESS_KEY_ID=DEMO_ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET=DEMO_ACCESS_KEY_SECRET,
        MARKETPLACE_ENDPOINT=f"http://127.0.0.1:{market}", MARKETPLACE_PRODUCT_CODE=DEMO_PRODUCT_CODE,
        MARKETPLACE_SPECS=json.dumps(DEMO_SPECS))
    server = serve(vendor.env, workers=2)
    control = f"http://127.0.0.1:{market}/_control"
    database = create_engine(pg_url)

    def rows(sql):
        with database.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(text(sql))]

    def activations():
        return [call for call in requests.get(control + "/requests", timeout=5).json()["requests"]
                if call.get("action") == "ActivateLicense"]

    first_event = rows("SELECT coalesce(max(id), 0) AS id FROM license_audit_events")[0]["id"]
    requests.post(control + "/faults", json={"kind": "slow", "delay": 120, "actions": "ActivateLicense"}, timeout=5)

    # The buyer redeems; the worker claims the code and waits on ActivateLicense.
    outcome: list = []
    buyer = threading.Thread(target=lambda: outcome.append(_answer_or_error(redeem, server)))
    buyer.start()
    wait_until(activations, "the worker to ask the marketplace to activate the code")
    workers = server.workers()
    issuing = wait_until(lambda: connected_to(workers, market), "the issuing worker's connection to the market")
    assert len(issuing) == 1
    [victim] = issuing
    pending = rows("SELECT state, claim_token FROM license_code_bindings")
    assert len(pending) == 1 and pending[0]["state"] == "pending" and pending[0]["claim_token"]
    os.kill(victim, signal.SIGKILL)
    buyer.join(timeout=60)
    assert isinstance(outcome[0], requests.ConnectionError), outcome  # no answer at all

    # gunicorn replaces the worker; the marketplace did activate the code.
    wait_until(lambda: len(server.workers() - {victim}) == 2, "gunicorn to replace the killed worker")
    code_state = requests.get(f"{control}/codes/{CODE}", timeout=5).json()
    assert code_state["status"] == "ACTIVATED"
    assert rows("SELECT count(*) AS n FROM license_issued_keys")[0]["n"] == 0

    # At once: the dead worker's claim is fresh, so nobody takes it over yet.
    again = redeem(server)
    assert again.status_code == 409 and again.json()["error"]["code"] == "issuing_in_progress"
    assert "Retry-After" in again.headers

    # Past the claim's timeout (aged here instead of waited for), the next attempt finishes the issue.
    with database.begin() as conn:
        conn.execute(text("UPDATE license_code_bindings SET claimed_at = claimed_at - interval '3 minutes'"))
    requests.delete(control + "/requests", timeout=5)
    done = redeem(server)
    assert done.status_code == 201, done.text
    assert activations() == []  # found activated: not activated twice

    keys = rows("SELECT seq, status, product_key FROM license_issued_keys")
    assert keys == [{"seq": 1, "status": "active", "product_key": done.json()["productKey"]}]
    [binding] = rows("SELECT state, claim_token, install_id, activated_at FROM license_code_bindings")
    assert binding["state"] == "bound" and binding["claim_token"] is None and binding["install_id"] == INSTALL
    assert binding["activated_at"] is not None
    # Asked again, the same key: nothing doubled.
    repeat = redeem(server)
    assert repeat.status_code == 200 and repeat.json()["productKey"] == keys[0]["product_key"]
    assert rows("SELECT count(*) AS n FROM license_issued_keys")[0]["n"] == 1

    events = rows(f"SELECT id, action, after FROM license_audit_events WHERE id > {first_event} ORDER BY id")
    assert [e["action"] for e in events] == ["redeem_refused", "code_activated", "code_bound", "key_issued"]
    assert events[0]["after"]["error"] == "issuing_in_progress"
    assert [e["id"] for e in events] == list(range(events[0]["id"], events[0]["id"] + len(events)))
    assert "took over a stale claim" in server.error_log()
    database.dispose()


def _answer_or_error(call, *args):
    try:
        return call(*args)
    except requests.RequestException as exc:
        return exc
