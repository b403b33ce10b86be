"""A bounded fuzz run against a live server (issue 11): every route, as anonymous and as each
role, with hostile values; it expects 0 5xx.

    .venv/bin/python -m tests.fuzz_live                      # 60 seconds, 2 clients, seed 1
    .venv/bin/python -m tests.fuzz_live --seconds 300 --workers 4 --seed 7
    .venv/bin/python -m tests.fuzz_live --requests 2000 --database-url postgresql+psycopg://...
    .venv/bin/python -m tests.fuzz_live --no-rate-limits     # deeper into the redemption's steps

It starts the demo app (role both, the in-process marketplace simulator with its demo codes,
SQLite in a temporary folder unless `--database-url` names an empty database, the schema made by
the migrations) on Werkzeug's threaded server on loopback, as production answers: TESTING off,
CSRF on, errors answered by the app's own handlers, rate limits on (the login's raised, so the
fuzz's own sessions can log in again after a fuzzed logout). It makes an operator, an issuer and
an admin, each with a session (and its CSRF token) and a bearer token, and sends random requests
built from `tests/hostile.py` (the routes from the app's URL map, the field names from its
source; markup, other scripts' digits, numbers past 32 and 64 bits, nested JSON, control
characters, any text, and valid values so that requests get past the first check) until the
time or request budget is spent. Then it reads, as admin, every page that shows stored text.

Findings: an answer 5xx; an error the server logged ("unhandled error"); an `/api/v1` answer
that is not JSON; a page holding an element from the markup sent; a request that got no answer.
It prints a JSON summary on stdout (requests, per second, answers by status, findings) and
progress on stderr; exit 1 on any finding. `tests/test_fuzz_live.py` runs a short one in CI.
"""
from __future__ import annotations

import argparse
import json
import logging
import random
import re
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import requests
from werkzeug.serving import make_server

from tests.hostile import ALL, GATES, HUGE, NESTED, ROLES, field_names, fill_path, hostile_elements, random_text, routes

PASSWORD = "correct horse battery"
READY = "DEMO-AKU20-READY-7K3Q"
TIMEOUT = 30  # seconds a request may take before it counts as unanswered
STORED_TEXT_PAGES = ("/settings", "/settings/history", "/instances", "/vendor/keys", "/vendor/audit",
                     "/vendor/attention", "/vendor/demo-codes")


@dataclass
class Report:
    requests: int = 0
    statuses: Counter = field(default_factory=Counter)
    findings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, status: int | None, finding: str | None = None) -> None:
        with self.lock:
            self.requests += 1
            self.statuses["no answer" if status is None else str(status)] += 1
            if finding and len(self.findings) < 200:
                self.findings.append(finding)

    def summary(self) -> dict:
        return {"requests": self.requests, "seconds": round(self.seconds, 1),
                "perSecond": round(self.requests / self.seconds, 1) if self.seconds else None,
                "statuses": dict(sorted(self.statuses.items())), "findings": self.findings}


class _ServerErrors(logging.Handler):
    """Counts what the app logs at ERROR while the fuzz runs (a traceback is a finding)."""

    def __init__(self, report: Report) -> None:
        super().__init__(logging.ERROR)
        self.report = report

    def emit(self, record: logging.LogRecord) -> None:
        with self.report.lock:
            self.report.findings.append(f"server logged: {record.getMessage()[:300]}")


def build_app(folder: str, database_url: str | None, rate_limits: bool):
    from flask_migrate import upgrade

    from webapp import create_app
    from webapp.config import TestConfig

    config = TestConfig().__dict__.copy()
    config.update(
        TESTING=False, PROPAGATE_EXCEPTIONS=False, WTF_CSRF_ENABLED=True, RATELIMIT_ENABLED=rate_limits,
        SQLALCHEMY_DATABASE_URI=database_url or f"sqlite:///{folder}/fuzz.db", LICENSE_INSTANCE_PATH=folder,
        LICENSE_ROLE="both", LICENSE_LOGIN_RATE_LIMIT="10000 per minute", LICENSE_SKIP_SIGNING_KEY_CHECK=True,
        # Plain HTTP on loopback: without it the Secure session cookie never comes back.
        LICENSE_INSECURE_HTTP=True,
    )
    app = create_app(config)
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        from webapp.vendor_side import signing_keys

        signing_keys.generate(dev=True)  # the demo's development signing key
    return app


class Fuzzer:
    def __init__(self, app, url: str, report: Report, seed: int) -> None:
        self.app, self.url, self.report = app, url, report
        self.routes = routes(app)
        self.fields = field_names()
        self.seed = seed
        from webapp.auth import create_token, create_user
        from webapp.database import db
        from webapp.environment.license_record import install_id
        from webapp.vendor_side import offline

        with app.app_context():
            self.tokens = {"anonymous": None}
            for role in ROLES[1:]:
                user = create_user(f"{role}@example.com", PASSWORD, role)
                db.session.flush()
                self.tokens[role] = create_token(user)
            db.session.commit()
            self.install_id = install_id()
            order = offline.read_order({"install_id": self.install_id, "aku": "8", "days": "30", "contract": "C-1",
                                        "reason": "the fuzz's valid key"})
            key = offline.issue_offline(order, actor="fuzz").key
            self.key_id, self.product_key = key.id, key.product_key
        self.valid = {
            "install_id": self.install_id, "installId": self.install_id, "code": READY, "authorizationCode": READY,
            "authorization_code": READY, "aku": "4", "days": "30", "type": "subscription", "contract": "C-2",
            "reason": "because", "name": "kafka-1", "product_key": self.product_key, "productKey": self.product_key,
            "action": "renew", "q": self.install_id, "status": "active", "panel": "update", "next": "/settings",
            "before": "1", "after": "1", "since": "2026-01-01", "until": "2030-01-01", "key_id": self.key_id,
            "instance_id": "1", "binding_id": "1", "limit": "10", "aliUid": "1234567890120001", "last4": "7K3Q",
        }

    # -------------------------------------------------------------- sessions

    def session(self, role: str) -> tuple[requests.Session, str]:
        """A session of `role` (logged in through the login page) and its CSRF token."""
        http = requests.Session()
        token = self._csrf(http.get(self.url + "/login", timeout=TIMEOUT).text)
        if role != "anonymous":
            http.post(self.url + "/login", data={"email": f"{role}@example.com", "password": PASSWORD,
                                                 "csrf_token": token}, timeout=TIMEOUT, allow_redirects=False)
            token = self._csrf(http.get(self.url + "/login", timeout=TIMEOUT).text) or token
        return http, token

    @staticmethod
    def _csrf(page: str) -> str:
        found = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
        return found.group(1) if found else ""

    # -------------------------------------------------------------- requests

    def value(self, rng: random.Random, name: str, *, api: bool):
        pick = rng.random()
        if pick < 0.4:
            return rng.choice(ALL)
        if pick < 0.65:
            return random_text(rng)
        if api and pick < 0.75:
            return rng.choice([int(rng.choice(HUGE[1:5])), -1, 1.5, True, None, [rng.choice(ALL)], {"a": rng.choice(ALL)}])
        return self.valid.get(name, "x")

    def one(self, rng: random.Random, sessions: dict) -> None:
        rule, method, arguments = rng.choice(self.routes)
        role = rng.choice(ROLES)
        api = rule.startswith("/api/v1")
        path = fill_path(rule, {name: (rng.choice(ALL) if rng.random() < 0.5 else self.valid.get(name, "1"))[:3000]
                                for name in arguments})
        names = rng.sample(self.fields, rng.randrange(0, 7))
        if rng.random() < 0.3:  # valid gates, hostile text elsewhere: deeper into the views
            fields = {n: (self.valid.get(n, "x") if n in GATES else rng.choice(ALL)) for n in names}
        else:
            fields = {n: self.value(rng, n, api=api) for n in names}
        http, token = sessions[role]
        headers = {"X-CSRFToken": token}
        if api and self.tokens[role]:
            headers["Authorization"] = f"Bearer {self.tokens[role]}"
        if rng.random() < 0.5:
            headers["HX-Request"] = "true"
        kwargs: dict = {"headers": headers, "timeout": TIMEOUT, "allow_redirects": False}
        as_text = {k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}
        if method in ("GET", "DELETE"):
            kwargs["params"] = as_text
        elif api:
            pick = rng.random()
            body = json.dumps(fields) if pick < 0.7 else rng.choice(NESTED) if pick < 0.85 else random_text(rng, 40)
            kwargs["data"] = body.encode("utf-8", "surrogatepass")
            headers["Content-Type"] = "application/json"
        else:
            kwargs["data"] = as_text
        where = f"{method} {path[:100]} as {role}"
        try:
            response = http.request(method, self.url + path, **kwargs)
        except requests.RequestException as exc:
            self.report.record(None, f"{where}: no answer ({type(exc).__name__})")
            return
        self.report.record(response.status_code, self.check(response, where, api))
        if rule == "/logout" and role != "anonymous" and response.status_code == 303:
            sessions[role] = self.session(role)  # logged out by the fuzz: in again

    @staticmethod
    def check(response: requests.Response, where: str, api: bool) -> str | None:
        if response.status_code >= 500:
            return f"{where}: {response.status_code} {response.text[:200]!r}"
        content_type = response.headers.get("Content-Type", "")
        if api and response.status_code != 204 and not content_type.startswith("application/json"):
            return f"{where}: {response.status_code} answered {content_type or 'no Content-Type'}, not JSON"
        if content_type.startswith("text/html"):
            elements = hostile_elements(response.text)
            if elements:
                return f"{where}: markup sent became elements {elements}"
        return None

    def worker(self, index: int, deadline: float, budget: list[int]) -> None:
        rng = random.Random(f"{self.seed}-{index}")
        sessions = {role: self.session(role) for role in ROLES}
        while time.monotonic() < deadline:
            with self.report.lock:
                if budget[0] <= 0:
                    return
                budget[0] -= 1
            self.one(rng, sessions)

    def stored_text_pages(self) -> None:
        """Every page that shows stored text, read as admin: no markup sent became markup."""
        from webapp.database import db
        from webapp.vendor_side.models import IssuedKey

        with self.app.app_context():
            keys = list(db.session.scalars(db.select(IssuedKey.id)))
        http, _ = self.session("admin")
        for path in list(STORED_TEXT_PAGES) + [f"/vendor/keys/{k}" for k in keys]:
            for headers in ({}, {"HX-Request": "true"}):
                response = http.get(self.url + path, headers=headers, timeout=TIMEOUT)
                finding = self.check(response, f"GET {path} as admin, afterwards", False)
                if response.status_code != 200:
                    finding = finding or f"GET {path} as admin, afterwards: {response.status_code}"
                self.report.record(response.status_code, finding)


def run(*, seconds: float = 60, requests_budget: int | None = None, workers: int = 2, seed: int = 1,
        database_url: str | None = None, rate_limits: bool = True, quiet: bool = False) -> Report:
    """Start the server, fuzz it, stop it; the report."""
    report = Report()
    with tempfile.TemporaryDirectory(prefix="license-fuzz-") as folder:
        app = build_app(folder, database_url, rate_limits)
        errors = _ServerErrors(report)
        app.logger.addHandler(errors)
        logging.getLogger("webapp").addHandler(errors)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        serving = threading.Thread(target=server.serve_forever, daemon=True)
        serving.start()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
        try:
            fuzzer = Fuzzer(app, f"http://127.0.0.1:{server.server_port}", report, seed)
            if not quiet:
                print(f"fuzzing {fuzzer.url}: {len(fuzzer.routes)} routes, {len(fuzzer.fields)} field names, "
                      f"{workers} clients, seed {seed}", file=sys.stderr)
            started = time.monotonic()
            budget = [requests_budget if requests_budget is not None else 10**12]
            threads = [threading.Thread(target=fuzzer.worker, args=(i, started + seconds, budget)) for i in range(workers)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            report.seconds = time.monotonic() - started
            fuzzer.stored_text_pages()
        finally:
            server.shutdown()
            serving.join(timeout=10)
            app.logger.removeHandler(errors)
            logging.getLogger("webapp").removeHandler(errors)
            with app.app_context():
                from webapp.database import db

                db.session.remove()
                db.engine.dispose()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60, help="how long to fuzz (default 60)")
    parser.add_argument("--requests", type=int, default=None, help="stop after this many requests")
    parser.add_argument("--workers", type=int, default=2, help="clients sending at once (default 2)")
    parser.add_argument("--seed", type=int, default=1, help="the random seed (default 1): the same run again")
    parser.add_argument("--database-url", default=None, help="an empty database to run on (default: SQLite in a temporary folder)")
    parser.add_argument("--no-rate-limits", action="store_true", help="turn the rate limits off (deeper into redemption)")
    args = parser.parse_args(argv)
    report = run(seconds=args.seconds, requests_budget=args.requests, workers=args.workers, seed=args.seed,
                 database_url=args.database_url, rate_limits=not args.no_rate_limits)
    print(json.dumps(report.summary(), indent=2, ensure_ascii=False))
    fives = sum(n for status, n in report.statuses.items() if status.startswith("5"))
    print(f"{report.requests} requests in {report.seconds:.0f} s, {fives} 5xx, {len(report.findings)} findings",
          file=sys.stderr)
    return 1 if report.findings else 0


if __name__ == "__main__":
    sys.exit(main())
