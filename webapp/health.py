"""Liveness and readiness: what a load balancer (or a host console) asks before sending traffic.

- `/healthz`, alive: 200 `{"status": "ok"}` while the process answers; it touches nothing.
- `/readyz`, ready to serve: 200 `{"status": "ready", "checks": {...}}`, or 503
  `{"status": "not ready", "checks": {...}}` with what is wrong, check by check:
  - `database`: a `SELECT 1` answers within `LICENSE_READINESS_TIMEOUT` seconds (2);
  - `signing_key` (vendor): the active signing key loads (it exists and
    `LICENSE_SIGNING_KEY_PASSPHRASE` decrypts it);
  - `vendor_keys` (environment): the vendor public keys it trusts load, at least one of them.

In a host console (`login_check` given) the plugin registers neither route: the host keeps its own
and calls `readiness(app)` for the plugin's part (docs/production.md).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

from flask import Flask, current_app, jsonify
from sqlalchemy import text

from .cli import command_line

DEFAULT_TIMEOUT = 2.0


@dataclass(frozen=True)
class Check:
    ok: bool
    message: str

    def to_json(self) -> dict:
        return {"ok": self.ok, "message": self.message}


@dataclass
class Readiness:
    """`checks` by name; `ready` when every one passed."""

    checks: dict[str, Check] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return all(check.ok for check in self.checks.values())

    @property
    def status_code(self) -> int:
        return 200 if self.ready else 503

    def to_json(self) -> dict:
        return {"status": "ready" if self.ready else "not ready",
                "checks": {name: check.to_json() for name, check in self.checks.items()}}


def _timeout(app: Flask) -> float:
    try:
        return max(0.1, float(app.config["LICENSE_READINESS_TIMEOUT"]))
    except (TypeError, ValueError):
        return DEFAULT_TIMEOUT


def _reason(exc: BaseException) -> str:
    """The first line of the driver's message, without SQLAlchemy's links and SQL."""
    orig = getattr(exc, "orig", None) or exc
    first = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    return first[:300]


def check_database(app: Flask) -> Check:
    """`SELECT 1` on the plugin's database, in a thread given `LICENSE_READINESS_TIMEOUT` seconds:
    a server that does not answer at all (a network black hole) must not hang the probe."""
    from .database import db

    outcome: list[BaseException | None] = []
    done = threading.Event()

    def probe():
        try:
            with app.app_context():
                with db.engine.connect() as connection:
                    connection.execute(text("SELECT 1"))
            outcome.append(None)
        except Exception as exc:  # noqa: BLE001 - reported below, in words
            outcome.append(exc)
        finally:
            done.set()

    timeout = _timeout(app)
    threading.Thread(target=probe, name="license-readiness-db", daemon=True).start()
    if not done.wait(timeout):
        return Check(False, f"The database did not answer within {timeout:g} seconds.")
    error = outcome[0]
    if error is not None:
        return Check(False, f"The database cannot be reached: {_reason(error)}")
    return Check(True, "The database answers.")


def check_signing_key(app: Flask) -> Check:
    """The active signing key exists and decrypts (vendor)."""
    from .vendor_side import signing_keys

    kid = "?"
    try:
        with app.app_context():
            key = signing_keys.active_key()
            if key is None:
                return Check(False, "There is no active signing key, so no product key can be issued. "
                                    f"Run `{command_line('license keygen')}`.")
            kid = key.kid
            signing_keys.private_key(key)
    except signing_keys.SigningKeyMissing as exc:
        return Check(False, str(exc))
    except (ValueError, TypeError):
        return Check(False, f"The active signing key {kid} does not decrypt: "
                            "LICENSE_SIGNING_KEY_PASSPHRASE is not the one it was made with.")
    except Exception as exc:  # noqa: BLE001 - the schema missing, the database gone
        return Check(False, f"The signing keys cannot be read: {_reason(exc)}")
    return Check(True, f"The active signing key {kid} loads.")


def check_vendor_keys(app: Flask) -> Check:
    """The vendor public keys this environment trusts load, and there is at least one."""
    from . import trust

    if app.config["LICENSE_ROLE"] == "environment" and not app.config.get("LICENSE_PUBLIC_KEYS"):
        return Check(False, "LICENSE_PUBLIC_KEYS is not set: this environment trusts no vendor key, so no "
                            "product key can be activated. Set it to the file "
                            f"`{command_line('license public-keys')}` prints on the vendor side.")
    try:
        with app.app_context():
            count = len(trust.TrustedKeys(app))  # a fresh load, not the cache of the hot path
    except trust.TrustConfigError as exc:
        return Check(False, str(exc))
    except Exception as exc:  # noqa: BLE001 - a bad PEM, or (role both) the database
        return Check(False, f"The vendor public keys cannot be loaded: {_reason(exc)}")
    if count == 0:
        return Check(False, "No vendor public key is trusted (development keys are left out outside the "
                            "demo), so no product key can be activated.")
    return Check(True, f"{count} vendor public key{'s' if count != 1 else ''} loaded.")


def readiness(app: Flask | None = None) -> Readiness:
    """Every check of the plugin on `app` (the current app by default). What `/readyz` answers,
    and what a host console calls for its own readiness route."""
    app = app or current_app._get_current_object()
    state = app.extensions["license_platform"]
    result = Readiness()
    result.checks["database"] = check_database(app)
    database_ok = result.checks["database"].ok
    not_checked = Check(False, "Not checked: it needs the database.")
    if state.vendor:
        result.checks["signing_key"] = check_signing_key(app) if database_ok else not_checked
    if state.environment:
        needs_database = state.role == "both"  # the demo trusts its own signing keys
        result.checks["vendor_keys"] = (check_vendor_keys(app) if database_ok or not needs_database
                                        else not_checked)
    return result


def healthz():
    """Alive: the process answers. Nothing is checked."""
    return {"status": "ok"}


def readyz():
    result = readiness()
    response = jsonify(result.to_json())
    response.status_code = result.status_code
    response.headers["Cache-Control"] = "no-store"
    return response
