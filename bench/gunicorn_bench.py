"""gunicorn's settings for `bench/http.py`: the project's `gunicorn.conf.py` as it is (workers,
keep-alive, access log, hooks), except that several workers may count rate limits in memory.

The project refuses that outside the demo (each worker would count alone); the benchmark runs it
on purpose, to compare limits kept in memory with limits kept in Redis on the same settings. So the
number of workers is `BENCH_WORKERS` (default 2), not `WEB_CONCURRENCY`, which the app checks too.
"""
import os
import runpy
from pathlib import Path

_project = runpy.run_path(str(Path(__file__).resolve().parent.parent / "gunicorn.conf.py"))
globals().update({name: value for name, value in _project.items() if not name.startswith("__")})
workers = int(os.environ.get("BENCH_WORKERS", "2"))


def on_starting(server):
    from webapp.metrics import on_starting as empty_metrics_directory

    empty_metrics_directory(server)
