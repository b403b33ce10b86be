"""What a host console uses: the license state, the capacity check, a decorator for views, and the
guard of the environment's own pages (which honours the host's ``login_check``).

    from webapp.environment import current_license, check_capacity, requires_capacity, CapacityError

    lic = current_license()              # LicenseState: .status, .days_left, .aku, .aku_in_use, ...
    check_capacity(8)                    # raises InsufficientAku / LicenseExpired (CapacityError)
    check_capacity(12, growing_from=8)   # growing an instance from 8 to 12 AKU

    from webapp.inputs import whole_number   # ASCII digits within a range, else None

    @app.post("/clusters")
    @requires_capacity(lambda: whole_number(request.form.get("aku"), 1, 100_000))
    def create_cluster(): ...   # None (not such a number): no check; the view refuses the input
"""
from __future__ import annotations

from functools import wraps
from typing import Callable

from flask import abort, current_app, g, has_request_context, request
from werkzeug.exceptions import Conflict
from werkzeug.wrappers import Response as WerkzeugResponse

from .. import access
from ..errors import api_error, is_api_request
from ..models.accounts import AccountRole
from . import license_rules as sm
from . import license_record

CapacityError = sm.CapacityError
InsufficientAku = sm.InsufficientAku
LicenseExpired = sm.LicenseExpired
LicenseState = sm.LicenseState


def current_license() -> sm.LicenseState:
    """The environment's license now: install ID, status, days left, AKU licensed and in use."""
    return license_record.current_license()


def check_capacity(aku_needed: int, *, growing_from: int = 0) -> sm.LicenseState:
    """Raise CapacityError unless an instance may take ``aku_needed`` AKU now.

    ``aku_needed`` is the AKU the instance will have; ``growing_from`` its current AKU when it
    grows (0 for a new instance). Shrinking is always allowed. Answers the license state on success.

    This is a check, not a reservation: the environment's own instances take a lock that
    serializes them; a host that must never overshoot under concurrency records its usage
    through the environment's instances (``webapp.environment.instances.create_instance``) instead.
    """
    lic = license_record.current_license()
    if growing_from:
        lic.check_resize(growing_from, aku_needed)
    else:
        lic.check_create(aku_needed)
    return lic


def wants_json() -> bool:
    """The plugin's `/api/v1`, a JSON request, or a client that prefers JSON (a host's own API,
    wherever the host serves it)."""
    if is_api_request() or request.is_json:
        return True
    accept = request.accept_mimetypes
    return accept.best == "application/json" or accept["application/json"] > accept["text/html"]


def capacity_error_response(exc: sm.CapacityError):
    """The answer for a refused capacity check: the JSON error document to an API request
    (`wants_json`), an error page elsewhere."""
    if wants_json():
        return api_error(exc.code, exc.message, exc.http_status)
    raise Conflict(description=exc.message)


def requires_capacity(aku_from_request: Callable[..., int | tuple[int, int] | None]):
    """Decorate a host view that creates (or grows) something using AKU.

    ``aku_from_request(*view_args, **view_kwargs)`` answers the AKU needed, a tuple
    ``(new_aku, current_aku)`` for growing, or None to skip the check. A refusal answers 409:
    ``{"error": {"code": "insufficient_aku" | "license_expired", ...}}`` to an API request (the
    plugin's /api/v1, a JSON body, or ``Accept: application/json``), an error page elsewhere. The view finds the checked state in ``g.environment_license``.
    """

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            needed = aku_from_request(*args, **kwargs)
            if needed is not None:
                new, current = needed if isinstance(needed, tuple) else (needed, 0)
                try:
                    g.environment_license = check_capacity(new, growing_from=current)
                except sm.CapacityError as exc:
                    return capacity_error_response(exc)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def operator_page(view):
    """Guard for the environment's pages: the host's ``login_check`` when one was given to
    ``init_app``, otherwise the app's own accounts with role ``operator`` (admin passes).

    ``login_check()`` answers True (allowed), False (403), or a response to send instead (for
    example a redirect to the host's login page). Declares the view's access
    (`access.OPERATOR_PAGE`).
    """
    from ..auth import roles_required

    guarded = roles_required(AccountRole.OPERATOR)(view)

    @wraps(view)
    def wrapped(*args, **kwargs):
        check = current_app.extensions["license_platform"].login_check
        if check is None:
            return guarded(*args, **kwargs)
        verdict = check()
        if isinstance(verdict, WerkzeugResponse):
            return verdict
        if not verdict:
            abort(403)
        return view(*args, **kwargs)

    return access.declare(wrapped, access.Access(access.OPERATOR_PAGE, (AccountRole.OPERATOR,)))


def may_see_license() -> bool:
    """Whether the current visitor sees the license badge and banners (operators and admins)."""
    if not has_request_context():
        return False
    state = current_app.extensions["license_platform"]
    if state.login_check is not None:
        return state.host_lets_in()
    from flask_login import current_user

    return bool(current_user.is_authenticated and current_user.has_role(AccountRole.OPERATOR))
