"""What the benchmarks that start servers share: a free loopback port, the process environment
without a deployment's settings, and the README's `flask` commands."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# What a deployment's environment may hold that would change the servers a benchmark starts.
_OURS = ("LICENSE_", "MARKETPLACE_", "ALIBABA_CLOUD_", "RATELIMIT_", "VENDOR_", "PROMETHEUS_")
_ALSO = ("SECRET_KEY", "DATABASE_URL", "WEB_CONCURRENCY", "TRUSTED_PROXIES", "GUNICORN_CMD_ARGS", "FLASK_APP")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def clean_environ(**values: str) -> dict[str, str]:
    """This process's environment without the settings of a deployment, then `values`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OURS) and k not in _ALSO}
    env.update(values)
    return env


def flask(env: dict, *args: str, input: str | None = None) -> str:
    """`.venv/bin/flask --app wsgi ARGS` from the repository; its stdout, or the benchmark stops."""
    result = subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=REPO, env=env, input=input,
                            capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        sys.exit(f"flask {' '.join(args)} exited {result.returncode}: {result.stderr}")
    return result.stdout
