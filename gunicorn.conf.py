"""gunicorn's settings: `.venv/bin/gunicorn -c gunicorn.conf.py wsgi:app`.

The hooks of the Prometheus metrics' multiprocess mode (`PROMETHEUS_MULTIPROC_DIR`, see
docs/configuration.md, "Metrics"): the directory is emptied when gunicorn starts, and a worker's
live gauges go when it exits. They do nothing without `PROMETHEUS_MULTIPROC_DIR`.
"""


def on_starting(server):
    from webapp.metrics import on_starting as empty_metrics_directory

    empty_metrics_directory(server)


def child_exit(server, worker):
    from webapp.metrics import child_exit as forget_worker_metrics

    forget_worker_metrics(server, worker)
