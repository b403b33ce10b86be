"""Small helpers for answering htmx and plain requests from the same view.

A view renders its fragment for htmx and the full page (which includes the same fragment)
for everyone else: plain browsers, boosted links and history restores.
"""
from __future__ import annotations

import json

from flask import Response, flash, make_response, redirect, render_template, request


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def wants_fragment() -> bool:
    """True for an htmx request that swaps part of a page (not boosted, not a history restore)."""
    return (
        is_htmx()
        and request.headers.get("HX-Boosted") != "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def render(page: str, fragment: str, status: int = 200, **context) -> Response:
    """The fragment for htmx, the page for everyone else; `Vary: HX-Request` either way."""
    template = fragment if wants_fragment() else page
    response = make_response(render_template(template, **context), status)
    response.vary.add("HX-Request")
    return response


def trigger(response: Response, *events: str, **detailed) -> Response:
    """Add `HX-Trigger` events (kebab-case names) that other parts of the page listen to."""
    existing = response.headers.get("HX-Trigger")
    payload: dict = {}
    if existing:
        try:
            payload = json.loads(existing)
        except ValueError:
            payload = {name.strip(): None for name in existing.split(",")}
    for name in events:
        payload[name] = None
    payload.update(detailed)
    response.headers["HX-Trigger"] = json.dumps(payload)
    return response


def no_store(response: Response) -> Response:
    """`Cache-Control: no-store` on an answer that carries product keys or the audit trail, so
    that no browser or proxy cache keeps a copy (whatever `LICENSE_SECURITY_HEADERS` says)."""
    response.headers["Cache-Control"] = "no-store"
    return response


def done(message: str, location: str, *events: str, fragment: Response | None = None) -> Response:
    """After a mutation: htmx gets the updated fragment plus events; a plain form flashes
    the message and is redirected with 303 (so reloading the page does not post again)."""
    if wants_fragment() and fragment is not None:
        return trigger(fragment, *events)
    flash(message, "success")
    return redirect(location, code=303)
