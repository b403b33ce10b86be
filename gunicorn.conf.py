"""gunicorn's settings for the standalone app: `.venv/bin/gunicorn -c gunicorn.conf.py wsgi:app`
(gunicorn also reads this file by itself when started from this directory).

- `workers`: `WEB_CONCURRENCY`; unset, 2 x CPUs + 1 (at most 8) when the rate limits are kept in a
  shared store (`RATELIMIT_STORAGE_URI=redis://...`), else 1. More than one worker with `memory://`
  outside the demo refuses to start, saying what to set (`webapp.rate_limit_store`).
- `bind`: `LICENSE_BIND` (default `127.0.0.1:8000`; `0.0.0.0:8000` behind a load balancer).
- The access log goes to stdout, and never holds a query string: a whole authorization code typed
  into the Keys search is in one (`?q=...`). So its format has the method and the path alone
  (`%(U)s`), never the request line (`%(r)s`), the query (`%(q)s`) or the Referer (`%(f)s`, the
  previous page's address, query included).
- The Prometheus metrics' multiprocess mode (`PROMETHEUS_MULTIPROC_DIR`, docs/configuration.md,
  "Metrics"): the directory is emptied when gunicorn starts, and a worker's live gauges go when it
  exits; without `PROMETHEUS_MULTIPROC_DIR` these hooks do nothing.
See docs/production.md.
"""
import os

from webapp import rate_limit_store
from webapp.config import Config

_settings = Config()


def _default_workers() -> int:
    if os.environ.get("WEB_CONCURRENCY", "").strip():
        return rate_limit_store.workers_from_environment()
    if rate_limit_store.is_per_process(_settings.RATELIMIT_STORAGE_URI):
        return 1
    return min(2 * (os.cpu_count() or 1) + 1, 8)


wsgi_app = "wsgi:app"
bind = os.environ.get("LICENSE_BIND", "").strip() or "127.0.0.1:8000"
workers = _default_workers()
worker_class = "sync"

# A request may make two Market API calls of up to MARKETPLACE_DEADLINE (30 s) each, and wait
# LICENSE_PENDING_WAIT (5 s) for another worker issuing on the same code: a worker silent for
# longer than `timeout` is killed and replaced (its half-done issue is safe: docs/vendor.md).
timeout = 90
# On SIGTERM (a deploy, a scale-down) the requests in progress get this long to finish.
graceful_timeout = 30
keepalive = 5

accesslog = "-"
errorlog = "-"
# Client, time, method and path (no query string), status, bytes, milliseconds, <worker pid>, agent.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms %(p)s "%(a)s"'


def on_starting(server):
    """Refuse several workers counting rate limits each on their own (before any worker starts);
    empty the metrics directory."""
    rate_limit_store.check(server.cfg.workers, _settings.RATELIMIT_STORAGE_URI,
                           demo=not _settings.SECRET_KEY)
    from webapp.metrics import on_starting as empty_metrics_directory

    empty_metrics_directory(server)


def child_exit(server, worker):
    from webapp.metrics import child_exit as forget_worker_metrics

    forget_worker_metrics(server, worker)


def post_worker_init(worker):
    """Say when a worker has loaded the app and takes requests ("Booting worker" is said before)."""
    worker.log.info("Worker ready (pid: %s)", worker.pid)
