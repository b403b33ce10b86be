"""The URL-map walk of tests/test_access.py on the environment's routes mounted in the example
host console: its pages (the host's `login_check`: the console's signed-in users, anyone else to
the console's login), its fragments and static files, its `/api/v1` (bearer tokens of the
plugin's own accounts) and the 404 under its prefix, as anonymous, as the console's user and as
a bearer token of each of the plugin's roles."""
from __future__ import annotations

from tests.access_walk import ANONYMOUS, BEARER, ROLES, SESSION, Visitor, walk
from webapp.auth import create_token, create_user
from webapp.database import db

from .conftest import EMAIL, PASSWORD


def test_the_plugins_routes_in_a_host_answer_only_whom_their_declarations_let_in(app):
    state = app.extensions["license_platform"]
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()
                 if rule.endpoint.rpartition(".")[0] in state.blueprints or rule.endpoint == "license_ui.not_found"}
    assert {"environment.settings", "environment_api.apply_license", "core.badge", "license_ui.not_found"} <= endpoints
    assert not any(e.startswith(("vendor", "accounts.")) for e in endpoints)  # the host keeps its login

    with app.app_context():
        tokens = {role: create_token(create_user(f"api-{role}@example.com", PASSWORD + "!", role)) for role in ROLES}
        db.session.commit()

    def sign_in(visitor: Visitor):
        client = app.test_client()
        assert client.post("/login", data={"email": EMAIL, "password": PASSWORD}).status_code == 303
        return client, {}

    clients = {Visitor(ANONYMOUS): (app.test_client(), {}), Visitor(SESSION): sign_in(Visitor(SESSION))}
    for role in ROLES:
        clients[Visitor(BEARER, role)] = (app.test_client(), {"Authorization": f"Bearer {tokens[role]}"})
    found = walk(app, clients, hosted=True, endpoints=endpoints, sign_in=sign_in)
    assert not found.problems, "\n".join(found.problems)
    assert any(line.startswith("GET /license/settings as session: 200") for line in found.asked)
    assert any(line.startswith("GET /license/api/v1/environment as bearer operator: 200") for line in found.asked)
