"""The rate limits hold across gunicorn workers with Redis as their store (issue 10).

Three workers on PostgreSQL, `RATELIMIT_STORAGE_URI` = the test Redis: the 11th redemption from one
client within a minute gets 429, the 6th attempt on one code within an hour too, and the 11th
failed login. The attempts within the limit are sent all at once (a worker serves one request at a
time, so the others take their share), the one past it after them; the access log names the
worker (`<pid>`) of every request, and the counted ones were served by more than one worker: one
worker's memory could not have counted them all.
"""
from __future__ import annotations

import threading

import requests

from .conftest import PASSWORD, csrf_token, deployment

INSTALL = "0123456789abcdef0123456789abcdef"
WORKERS = 3


def redeem(server, code, address=None):
    headers = {"X-Forwarded-For": address} if address else {}
    return requests.post(server.url("/api/v1/redeem"), json={"authorizationCode": code, "installId": INSTALL},
                         headers=headers, timeout=30)


def at_once(*calls):
    """Run the calls in threads released together; their answers in the calls' order."""
    gate = threading.Barrier(len(calls))
    answers: list = [None] * len(calls)

    def run(i, call):
        gate.wait()
        try:
            answers[i] = call()
        except Exception as exc:  # noqa: BLE001 - reported by the assertions on the answers
            answers[i] = exc

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def several_workers_served(server, path) -> set[int]:
    pids = set(server.pids_in_access_log(path))
    assert len(pids) >= 2, f"all requests to {path} went to one worker {pids}: nothing shared was shown"
    return pids


def start(tmp_path, pg_url, redis_url, serve, **extra):
    vendor = deployment(tmp_path, pg_url, redis_url, WEB_CONCURRENCY=WORKERS, **extra)
    server = serve(vendor.env, workers=WORKERS)
    return vendor, server


def test_the_11th_redemption_from_one_client_within_a_minute_is_refused(tmp_path, pg_url, redis_url, serve):
    _, server = start(tmp_path, pg_url, redis_url, serve)
    answers = at_once(*(lambda i=i: redeem(server, f"UNKNOWN-CODE-{i:04d}") for i in range(10)))
    answers.append(redeem(server, "UNKNOWN-CODE-0010"))
    assert [getattr(a, "status_code", a) for a in answers] == [404] * 10 + [429]
    limited = answers[-1].json()["error"]
    assert limited["code"] == "rate_limited" and "from this address (at most 10 a minute)" in limited["message"]
    assert 0 < int(answers[-1].headers["Retry-After"]) <= 60
    several_workers_served(server, "/api/v1/redeem")


def test_the_6th_attempt_on_one_code_within_an_hour_is_refused(tmp_path, pg_url, redis_url, serve):
    """From six addresses (behind one trusted proxy), so the per-client limit plays no part."""
    _, server = start(tmp_path, pg_url, redis_url, serve, TRUSTED_PROXIES=1)
    answers = at_once(*(lambda i=i: redeem(server, "UNKNOWN-GUESS-0001", address=f"10.0.1.{i}") for i in range(5)))
    answers.append(redeem(server, "UNKNOWN-GUESS-0001", address="10.0.1.5"))
    assert [getattr(a, "status_code", a) for a in answers] == [404] * 5 + [429]
    message = answers[-1].json()["error"]["message"]
    assert "for this authorization code (at most 5 an hour)" in message
    assert 3500 < int(answers[-1].headers["Retry-After"]) <= 3600
    several_workers_served(server, "/api/v1/redeem")


def test_the_11th_failed_login_within_a_minute_is_refused(tmp_path, pg_url, redis_url, serve):
    vendor, server = start(tmp_path, pg_url, redis_url, serve)
    vendor.user("staff@example.com", "issuer")
    browsers = []
    for _ in range(11):
        browser = requests.Session()  # its own cookie and connection, as scripts guessing would
        browsers.append((browser, csrf_token(browser, server)))

    def guess(browser, token):
        return browser.post(server.url("/login"), data={"email": "staff@example.com", "password": "wrong guess",
                                                         "csrf_token": token}, timeout=30)

    answers = at_once(*(lambda b=b: guess(*b) for b in browsers[:10]))
    answers.append(guess(*browsers[10]))
    statuses = [getattr(a, "status_code", a) for a in answers]
    assert 429 not in statuses[:10] and statuses[10] == 429, statuses
    several_workers_served(server, "/login")
    # The right password is refused too while the limit lasts: the limit is per address.
    browser = requests.Session()
    token = csrf_token(browser, server)
    answer = browser.post(server.url("/login"), data={"email": "staff@example.com", "password": PASSWORD,
                                                      "csrf_token": token}, timeout=30)
    assert answer.status_code == 429
