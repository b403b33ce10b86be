"""The database stopped and started again under load (issue 10).

A PostgreSQL cluster of this test's own (scripts/start-postgres), gunicorn with two workers on it,
four clients asking all the time for a staff page, the JSON API and `/readyz`. `pg_ctl stop -m
fast` while they ask: every one of the three answers 503 with its message (the page in words, the
API `database_unavailable`, `/readyz` its failed check), never a 500. `pg_ctl start`: each answers
200 again, from the same workers: nothing was restarted.
"""
from __future__ import annotations

import json
import subprocess
import threading
from collections import defaultdict
from pathlib import Path

import pytest
import requests
from sqlalchemy.engine import make_url

from webapp.db_unavailable import MESSAGE

from .conftest import ROOT, deployment, login, required, wait_until

PATHS = ("/vendor/keys", "/api/v1/product-keys", "/readyz")


class Cluster:
    """A throwaway PostgreSQL cluster, stopped and started with pg_ctl as its owner."""

    def __init__(self) -> None:
        printed = subprocess.run([str(ROOT / "scripts" / "start-postgres")], capture_output=True, text=True,
                                 timeout=300)
        assert printed.returncode == 0, printed.stderr
        values = dict(line.removeprefix("export ").split("=", 1) for line in printed.stdout.splitlines())
        self.url, self.data = values["TEST_POSTGRES_URL"], values["TEST_POSTGRES_DATA"]
        self.port = make_url(self.url).port
        self.bin = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))[-1]

    def pg_ctl(self, *args: str) -> None:
        command = " ".join([f"'{self.bin / 'pg_ctl'}'", "-D", f"'{self.data}'", *args])
        subprocess.run(["su", "postgres", "-s", "/bin/sh", "-c", command], check=True, capture_output=True,
                       timeout=120)

    def stop(self) -> None:
        self.pg_ctl("stop", "-m", "fast", "-w")

    def start(self) -> None:
        options = f"-p {self.port} -k '{self.data}' -c listen_addresses=127.0.0.1 -c fsync=off"
        self.pg_ctl("-l", f"'{self.data}/server.log'", "-w", "-o", f'"{options}"', "start")

    def remove(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass  # already stopped
        subprocess.run(["rm", "-rf", self.data], check=False)


@pytest.fixture
def cluster():
    required("TEST_POSTGRES_URL", 'eval "$(scripts/start-postgres)": PostgreSQL is installed')
    own = Cluster()
    yield own
    own.remove()


class Load:
    """Clients asking for PATHS over and over; every answer recorded with the phase it came in."""

    def __init__(self, server, browser: requests.Session, api_headers: dict, clients: int = 4) -> None:
        self.server, self.browser, self.api_headers = server, browser, api_headers
        self.phase = "up"
        self.answers: dict[str, list[tuple[str, str, int, str]]] = defaultdict(list)
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(i,)) for i in range(clients)]

    def _ask(self, path: str) -> requests.Response:
        if path.startswith("/api/"):
            return requests.get(self.server.url(path), headers=self.api_headers, timeout=30)
        session = self.browser if path.startswith("/vendor/") else requests
        return session.get(self.server.url(path), timeout=30, allow_redirects=False)

    def _run(self, offset: int) -> None:
        turn = offset
        while not self._stop.is_set():
            path = PATHS[turn % len(PATHS)]
            turn += 1
            phase = self.phase
            try:
                answer = self._ask(path)
            except requests.RequestException as exc:
                with self._lock:
                    self.failures.append(f"{phase} {path}: {exc}")
                continue
            with self._lock:
                self.answers[phase].append((path, phase, answer.status_code, answer.text))

    def seen(self, phase: str, status: int) -> set[str]:
        with self._lock:
            return {path for path, _, code, _ in self.answers[phase] if code == status}

    def __enter__(self):
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for t in self._threads:
            t.join()


def test_the_database_stopped_and_started_under_load(tmp_path, cluster, redis_url, serve):
    vendor = deployment(tmp_path, cluster.url, redis_url, WEB_CONCURRENCY=2)
    vendor.user("staff@example.com", "issuer")
    headers = vendor.token("staff@example.com")
    server = serve(vendor.env, workers=2)
    workers = server.workers()
    browser = login(server, "staff@example.com")

    with Load(server, browser, headers) as load:
        wait_until(lambda: load.seen("up", 200) == set(PATHS), "every path to answer 200")
        cluster.stop()
        load.phase = "down"
        wait_until(lambda: load.seen("down", 503) == set(PATHS), "every path to answer 503 with the database stopped")
        cluster.start()
        load.phase = "back"
        wait_until(lambda: load.seen("back", 200) == set(PATHS), "every path to answer 200 again", timeout=60)

    assert not load.failures, load.failures[:5]
    everything = [answer for answers in load.answers.values() for answer in answers]
    statuses = {status for _, _, status, _ in everything}
    assert statuses <= {200, 503}, f"other answers than 200 and 503: {statuses}"
    assert "Traceback" not in server.error_log() and "Exception on" not in server.error_log()
    assert server.workers() == workers  # served again by the same processes: no restart

    down = {path: text for path, phase, status, text in load.answers["down"] if status == 503}
    assert MESSAGE in down["/vendor/keys"] and "Temporarily unavailable" in down["/vendor/keys"]
    assert json.loads(down["/api/v1/product-keys"]) == {"error": {"code": "database_unavailable", "message": MESSAGE}}
    readiness = json.loads(down["/readyz"])
    assert readiness["status"] == "not ready" and readiness["checks"]["database"]["ok"] is False
    assert readiness["checks"]["database"]["message"].startswith("The database cannot be reached: ")
    # Once back, the page is the page again (the signed-in session survived the outage).
    back = browser.get(server.url("/vendor/keys"), timeout=30, allow_redirects=False)
    assert back.status_code == 200 and MESSAGE not in back.text
