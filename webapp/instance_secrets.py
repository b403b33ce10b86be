"""The demo's generated secrets, kept in the instance folder with mode 0600.

When `SECRET_KEY` is unset the app runs as the demo: the first start writes a secret key,
a data key and a signing-key passphrase to `<instance>/demo-secrets.json`, and every later
start (and every worker) reads the same file. Nothing secret is ever a literal in the source.
"""
from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

FILENAME = "demo-secrets.json"
KEYS = ("SECRET_KEY", "LICENSE_DATA_KEY", "LICENSE_SIGNING_KEY_PASSPHRASE")


def load_or_create(instance_path: str | os.PathLike) -> dict[str, str]:
    folder = Path(instance_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / FILENAME
    try:
        with path.open() as fh:
            values = json.load(fh)
    except FileNotFoundError:
        values = {}
    missing = [k for k in KEYS if not values.get(k)]
    if missing:
        for key in missing:
            values[key] = secrets.token_urlsafe(32)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(values, fh, indent=2)
        os.replace(tmp, path)  # atomic, so concurrent workers never read half a file
        with path.open() as fh:  # whoever won the race, everyone uses the file's values
            values = json.load(fh)
    os.chmod(path, 0o600)
    return values
