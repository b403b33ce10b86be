"""The buyers' page: "Redeem authorization code" (no login), rate limited like the API."""
from __future__ import annotations

from flask import Blueprint, request

from ..htmx import render, trigger
from .redeem import redeem_with_status
from .rules import IssueError, normalize_code, normalize_install_id

bp = Blueprint("redeem", __name__)


def _page(status: int = 200, **context):
    context.setdefault("values", {"code": "", "install_id": request.args.get("install_id", "")})
    context.setdefault("field_errors", {})
    return render("vendor/redeem.html", "vendor/_redeem_panel.html", status, **context)


@bp.route("/redeem", methods=["GET", "POST"])
def redeem_page():
    if request.method == "GET":
        return _page()
    values = {"code": (request.form.get("code") or "").strip(),
              "install_id": (request.form.get("install_id") or "").strip()}
    errors = {}
    for name, check in (("code", normalize_code), ("install_id", normalize_install_id)):
        try:
            check(values[name])
        except IssueError as exc:
            errors[name] = exc.message
    if errors:
        return _page(422, values=values, field_errors=errors)
    try:
        answer, created = redeem_with_status(values["code"], values["install_id"])
    except IssueError as exc:
        response = _page(422, values=values, error=exc)
        if exc.retry_after:
            response.headers["Retry-After"] = str(int(exc.retry_after))
        return response
    response = _page(values=values, answer=answer, created=created)
    return trigger(response, "key-issued") if created else response
