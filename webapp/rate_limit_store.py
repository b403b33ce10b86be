"""Whether the rate limits can hold with the processes a deployment runs.

The limits (failed logins, self-service redemptions) are counted in `RATELIMIT_STORAGE_URI`.
`memory://` counts in each process alone: with four gunicorn workers, four times as many
attempts get through. So outside the demo, more than one worker with `memory://` refuses to
start, saying what to set. Asked by `gunicorn.conf.py` when gunicorn starts (its `workers`,
from `-w` or `WEB_CONCURRENCY`), and by the app as it starts serving (`WEB_CONCURRENCY`, for
a gunicorn run without that file).
"""
from __future__ import annotations

import os

SHARED_HINT = "RATELIMIT_STORAGE_URI=redis://HOST:6379/0"


def is_per_process(storage_uri: str | None) -> bool:
    """`memory://` (the default) keeps its counts in the process that counted them."""
    return (storage_uri or "memory://").strip().lower().startswith("memory://")


def workers_from_environment(environ=os.environ) -> int:
    """gunicorn's default worker count, `WEB_CONCURRENCY` (1 when unset)."""
    value = (environ.get("WEB_CONCURRENCY") or "").strip()
    if not value:
        return 1
    try:
        return int(value)
    except ValueError:
        raise RuntimeError(f"WEB_CONCURRENCY must be a whole number of workers, not {value!r}") from None


def problem(workers: int, storage_uri: str | None, *, demo: bool) -> str | None:
    """Why these limits would not hold with `workers` processes, or None when they do."""
    if workers <= 1 or demo or not is_per_process(storage_uri):
        return None
    return (
        f"{workers} workers with RATELIMIT_STORAGE_URI={storage_uri or 'memory://'}: each worker would "
        "count failed logins and redemptions alone, letting through "
        f"{workers} times the limits. Set {SHARED_HINT} (a Redis server all workers and servers share), "
        "or run one worker (WEB_CONCURRENCY=1, or gunicorn -w 1)."
    )


def check(workers: int, storage_uri: str | None, *, demo: bool) -> None:
    """Raise `RuntimeError` with `problem`'s message when there is one."""
    message = problem(workers, storage_uri, demo=demo)
    if message:
        raise RuntimeError(message)
