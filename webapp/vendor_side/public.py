"""The buyers' page: "Redeem authorization code" (no login), rate limited like the API."""
from __future__ import annotations

from flask import Blueprint, request

from ..htmx import render, trigger
from .redeem import redeem_with_status
from .rules import IssueError, code_fields, field_errors

bp = Blueprint("redeem", __name__)


def _page(status: int = 200, **context):
    context.setdefault("values", {"code": "", "install_id": request.args.get("install_id", "")})
    context.setdefault("field_errors", {})
    return render("license/vendor_side/redeem.html", "license/vendor_side/_redeem_panel.html", status, **context)


@bp.route("/redeem", methods=["GET", "POST"])
def redeem_page():
    if request.method == "GET":
        return _page()
    values = code_fields(request.form)
    errors = field_errors(values)
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
