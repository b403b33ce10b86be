"""Every route of the URL map answers only whom its declaration lets in (issue 11, "Proof in the
suite"): pages, fragments and the API, with every method each rule allows, as anonymous, as a
session of each role and as a bearer token of each role, in role `both` (every route of both
sides). The expectations come from the declarations (webapp/access.py), so a new route is walked
the day it is added, and fails until it says who may use it. tests/host_console/test_host_access.py
walks the environment's routes mounted in a host console.
"""
from __future__ import annotations

import pytest
from flask import jsonify

from tests.access_walk import ANONYMOUS, BEARER, ROLES, SESSION, Visitor, undeclared, walk
from tests.conftest import PASSWORD
from webapp import access
from webapp.auth import create_token, create_user, roles_required
from webapp.database import db


@pytest.fixture
def app_config():
    return {"LICENSE_METRICS": True}  # /metrics too


def _visitors(app) -> tuple[dict, callable]:
    with app.app_context():
        tokens = {}
        for role in ROLES:
            user = create_user(f"{role}@example.com", PASSWORD, role)
            tokens[role] = create_token(user)
        db.session.commit()

    def sign_in(visitor: Visitor):
        client = app.test_client()
        response = client.post("/login", data={"email": f"{visitor.role}@example.com", "password": PASSWORD})
        assert response.status_code == 303, response.status_code
        return client, {}

    clients = {Visitor(ANONYMOUS): (app.test_client(), {})}
    for role in ROLES:
        clients[Visitor(SESSION, role)] = sign_in(Visitor(SESSION, role))
        clients[Visitor(BEARER, role)] = (app.test_client(), {"Authorization": f"Bearer {tokens[role]}"})
    return clients, sign_in


def test_every_route_answers_only_whom_its_declaration_lets_in(app):
    clients, sign_in = _visitors(app)
    found = walk(app, clients, sign_in=sign_in)
    assert not found.problems, "\n".join(found.problems)
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert {"environment.settings", "environment_api.apply_license", "vendor.offline", "vendor_api.create_product_key",
            "core.banners", "license_metrics.metrics"} <= endpoints  # both sides, fragments, the API, metrics
    assert len(found.asked) > 7 * len(endpoints)  # every visitor, every method


def test_a_route_without_a_declaration_fails_the_walk(app):
    app.add_url_rule("/new-page", "new_page", lambda: "hello")
    assert undeclared(app, [rule.endpoint for rule in app.url_map.iter_rules()]) == ["new_page"]
    found = walk(app, {Visitor(ANONYMOUS): (app.test_client(), {})}, endpoints={"new_page"})
    assert found.problems == ["new_page: no declared access (webapp/access.py says how to declare one)"]


def test_a_route_that_lets_in_whom_its_declaration_keeps_out_fails_the_walk(app):
    """The walk can fail: a view declared for operators' tokens that checks nothing, and a page
    declared for issuers that lets only operators in."""
    unguarded = access.declare(lambda: jsonify(ok=True), access.Access(access.API, ("operator",)))
    app.add_url_rule("/api/v1/unguarded", "unguarded", unguarded)
    wrong = roles_required("operator")(lambda: "operators only")
    access.declare(wrong, access.Access(access.PAGE, ("issuer",)))
    app.add_url_rule("/wrong-roles", "wrong_roles", wrong)
    clients, sign_in = _visitors(app)
    problems = walk(app, clients, sign_in=sign_in, endpoints={"unguarded", "wrong_roles"}).problems
    assert "GET /api/v1/unguarded (unguarded) as anonymous: 200: its declaration (api operator) answers it 401" \
        in problems
    assert "GET /api/v1/unguarded (unguarded) as bearer issuer: 200: its declaration (api operator) answers it 403" \
        in problems
    assert any(p.startswith("GET /wrong-roles (wrong_roles) as session issuer: 403") for p in problems)
    assert any(p.startswith("GET /wrong-roles (wrong_roles) as session operator: 200") for p in problems)
    assert not any("as bearer operator" in p for p in problems)  # what the declarations allow passes


def test_every_public_route_listed_is_a_route(app):
    """No stale entry in the list: a route added later under that name would be public unseen."""
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert set(access.PUBLIC) - endpoints == {"license_ui.not_found"}  # a host console's (test_host_access.py)
    assert all(access.PUBLIC.values())
