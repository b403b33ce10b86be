"""Prometheus metrics: `LICENSE_METRICS=1` serves `/metrics` (under the plugin's `url_prefix`).

Only for the internal network: the answer says how many keys were issued and redeemed and
what the marketplace answered, so the address must not be reachable from outside (a proxy
rule, a separate listener); `LICENSE_METRICS_TOKEN` adds a bearer-token check on top.

What is counted (the counters count in every process, served or not):

| metric | labels | what |
|---|---|---|
| `license_keys_issued_total` | `channel`, `type` | product keys signed (`alibaba-marketplace`, `offline-contract`) |
| `license_redemptions_total` | `result` | self-service redemptions: `ok`, or the error code (`code_expired`, `rate_limited`, ...) |
| `license_marketplace_calls_total` | `action`, `result` | Market API attempts: `ok`, or the error code (`License.NotFound`, `ReadTimeout`, ...) |
| `license_marketplace_call_seconds` | `action` | histogram of the time of those attempts |
| `license_reconcile_runs_total` | | reconcile runs (page, `flask license reconcile`) |
| `license_reconcile_codes_total` | `result` | codes a reconcile run read, by what it found (`ok`, `renewed`, `expired`, `error`, ...) |
| `license_http_requests_total` | `endpoint`, `method`, `status` | the plugin's requests |
| `license_http_request_seconds` | `endpoint` | histogram of their time |
| `license_http_requests_in_progress` | | requests being served (summed over live workers) |

and on the environment side, read from the database at each scrape: `license_days_left`,
`license_aku_licensed`, `license_aku_in_use`, `license_expiry_timestamp_seconds` and
`license_status{status}` (1 for the current status).

Several gunicorn workers: set `PROMETHEUS_MULTIPROC_DIR` to an empty directory in gunicorn's
environment (before it starts: prometheus_client reads it when imported), and call
`on_starting` and `child_exit` from gunicorn.conf.py. Every worker then writes its counts to
files there and `/metrics`, whichever worker answers, sums them all.
"""
from __future__ import annotations

import glob
import hmac
import logging
import os
import time

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.process_collector import ProcessCollector

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


if multiprocess_dir():
    # prometheus_client writes each process's values to files there from the first metric on.
    os.makedirs(multiprocess_dir(), exist_ok=True)

#: The plugin's own registry (a host's default registry is left alone); a host that serves its
#: own metrics may add these with `registry.register(...)` of a collector reading this one.
registry = CollectorRegistry(auto_describe=True)

KEYS_ISSUED = Counter("license_keys_issued", "Product keys signed, by channel and type.",
                      ["channel", "type"], registry=registry)
REDEMPTIONS = Counter("license_redemptions", "Self-service redemptions, by result (ok or the error code).",
                      ["result"], registry=registry)
MARKET_CALLS = Counter("license_marketplace_calls",
                       "Market API attempts, by action and result (ok or the error code).",
                       ["action", "result"], registry=registry)
MARKET_SECONDS = Histogram("license_marketplace_call_seconds", "Time of a Market API attempt, in seconds.",
                           ["action"], buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30), registry=registry)
RECONCILE_RUNS = Counter("license_reconcile_runs", "Reconcile runs.", registry=registry)
RECONCILE_CODES = Counter("license_reconcile_codes", "Codes read by reconcile runs, by what was found.",
                          ["result"], registry=registry)
HTTP_REQUESTS = Counter("license_http_requests", "Requests to the plugin, by endpoint, method and status.",
                        ["endpoint", "method", "status"], registry=registry)
HTTP_SECONDS = Histogram("license_http_request_seconds", "Time to answer a request of the plugin, in seconds.",
                         ["endpoint"], registry=registry)
IN_PROGRESS = Gauge("license_http_requests_in_progress", "Requests of the plugin being answered.",
                    multiprocess_mode="livesum", registry=registry)


def _label(value: object) -> str:
    return str(value or "unknown")[:64]


# --------------------------------------------------------------------------------------------
# What the business code reports


def key_issued(channel: str, key_type: str) -> None:
    KEYS_ISSUED.labels(channel=_label(channel), type=_label(key_type)).inc()


def redemption(result: str) -> None:
    REDEMPTIONS.labels(result=_label(result)).inc()


def market_call(call) -> None:
    """A `marketplace_adapter.MarketCall` (the client's observer)."""
    MARKET_CALLS.labels(action=_label(call.action), result=_label(call.error_code or "ok")).inc()
    MARKET_SECONDS.labels(action=_label(call.action)).observe(call.seconds)


def reconcile_finished(checked: int, kinds: list[str]) -> None:
    """A reconcile run read `checked` codes; `kinds` are its findings' kinds (every one but `ok`)."""
    RECONCILE_RUNS.inc()
    ok = max(0, checked - len(kinds))
    if ok:
        RECONCILE_CODES.labels(result="ok").inc(ok)
    for kind in kinds:
        RECONCILE_CODES.labels(result=_label(kind)).inc()


# --------------------------------------------------------------------------------------------
# Scrape


class _Delegate:
    """The plugin's registry inside the per-scrape one (single process)."""

    def collect(self):
        return registry.collect()


class EnvironmentCollector:
    """The environment's license, read at each scrape (one query); nothing when the database
    cannot be read (the counters are still served)."""

    def collect(self):
        from sqlalchemy.exc import SQLAlchemyError

        from .environment import license_record

        try:
            lic = license_record.current_license(fresh=True)
        except SQLAlchemyError as exc:
            log.warning("metrics: the license could not be read: %s", type(exc).__name__)
            return
        for name, text, value in (
            ("license_days_left", "Whole days until the license expires (0 once expired).", lic.days_left),
            ("license_aku_licensed", "AKU the license grants.", lic.aku),
            ("license_aku_in_use", "AKU of the instances recorded.", lic.aku_in_use),
            ("license_expiry_timestamp_seconds", "When the license expires (Unix time).",
             lic.terms.expires_at.timestamp()),
        ):
            yield GaugeMetricFamily(name, text, value=value)
        status = GaugeMetricFamily("license_status", "1 for the license's status.", labels=["status"])
        status.add_metric([lic.status], 1)
        yield status


def scrape_registry(state) -> CollectorRegistry:
    """What one scrape answers: every worker's counts (multiprocess mode) or this process's,
    and the environment's license."""
    scrape = CollectorRegistry()
    if multiprocess_dir():
        multiprocess.MultiProcessCollector(scrape)
    else:
        scrape.register(_Delegate())
        ProcessCollector(registry=scrape)
    if state.environment:
        scrape.register(EnvironmentCollector())
    return scrape


def _token_accepted() -> bool:
    token = current_app.config.get("LICENSE_METRICS_TOKEN")
    if not token:
        return True
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), str(token).encode())


bp = Blueprint("license_metrics", __name__)


@bp.get("/metrics")
def metrics():
    if not _token_accepted():
        return Response("The metrics need 'Authorization: Bearer <LICENSE_METRICS_TOKEN>'.\n", 401,
                        {"WWW-Authenticate": "Bearer"}, content_type="text/plain; charset=utf-8")
    state = current_app.extensions["license_platform"]
    return Response(generate_latest(scrape_registry(state)), content_type=CONTENT_TYPE_PLAIN_0_0_4)


# --------------------------------------------------------------------------------------------
# Request hooks


def _started() -> None:
    IN_PROGRESS.inc()
    g.license_metrics_counted = True


def _observed(response):
    endpoint = _label(request.endpoint or "none")
    HTTP_REQUESTS.labels(endpoint=endpoint, method=request.method, status=str(response.status_code)).inc()
    started = g.get("license_request_started")
    if started is not None:
        HTTP_SECONDS.labels(endpoint=endpoint).observe(max(0.0, time.perf_counter() - started))
    return response


def _ended(error=None) -> None:
    if g.pop("license_metrics_counted", False):
        IN_PROGRESS.dec()


def init_app(app: Flask, state) -> None:
    """Serve `/metrics` (under `url_prefix`) and count the plugin's requests; `production`
    calls it with `LICENSE_METRICS` on, before placing the request hooks."""
    state.register_blueprint(app, bp)
    from . import production

    production.before_request(app, state, _started)
    production.after_request(app, state, _observed)
    production.teardown_request(app, state, _ended)


# --------------------------------------------------------------------------------------------
# gunicorn hooks (gunicorn.conf.py)


def on_starting(server=None) -> None:
    """gunicorn's `on_starting`: empty `PROMETHEUS_MULTIPROC_DIR` of a previous run's files, as
    prometheus_client requires (the counters start again from zero, as after any restart)."""
    path = multiprocess_dir()
    if not path:
        return
    os.makedirs(path, exist_ok=True)
    for kind in ("counter", "gauge", "histogram", "summary"):
        for leftover in glob.glob(os.path.join(path, f"{kind}_*.db")):
            os.remove(leftover)


def child_exit(server, worker) -> None:
    """gunicorn's `child_exit`: a worker is gone, its live gauges (requests in progress) with it."""
    if multiprocess_dir():
        multiprocess.mark_process_dead(worker.pid)
