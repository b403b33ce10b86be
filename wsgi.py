"""The standalone app: `gunicorn wsgi:app` or `flask --app wsgi run`.

Role `both` (vendor and environment in one process) unless `LICENSE_ROLE` says otherwise;
with no `SECRET_KEY` it runs as the demo (see README.md).
"""
import os

os.environ.setdefault("LICENSE_ROLE", "both")

from webapp import create_app  # noqa: E402

app = create_app()
