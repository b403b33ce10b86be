"""Issue 11, the proof: every route of the URL map, as anonymous and as each role, given hostile
values in every form field, query argument, JSON member and address part the app reads.

Hostile values: any text, digits of other scripts ("²", "１"), numbers past 32 and 64 bits and
past Python's 4,300-digit limit, JSON nested thousands deep, control characters, markup (that
htmx would turn into requests). What must hold, whatever the input:

- no answer is a 5xx (the test client re-raises an unhandled exception, which fails the test);
- every `/api/v1` answer is JSON, an error one in the error document;
- no page holds an element or attribute from the markup sent (`data-hostile`), then or later:
  every page that lists stored text is read again at the end;
- a refused request (4xx) leaves the license, the instances, the issued keys and the code
  bindings as they were.

The routes come from `app.url_map` and the field names from the app's own source (what its views
read, what its templates name), so a new route or field is covered without editing this test
(`tests/hostile.py`, shared with the live fuzz run, `tests/fuzz_live.py`).
`test_every_route_with_each_kind_of_hostile_value` sends each kind to every route (deterministic);
`test_hostile_requests_of_any_shape` lets hypothesis combine them (derandomized, no database of
examples, so it is the same run in CI every time). Both together take well under a minute.
"""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webapp.database import db
from webapp.models.accounts import User
from webapp.environment.models import EnvironmentState, Instance
from webapp.vendor_side.models import CodeBinding, IssuedKey

from .hostile import (ALL, GATES, KINDS, MARKUP, NESTED, ROLES, field_names, fill_path, hostile_elements,
                      routes)

PASSWORD = "correct horse battery"
READY = "DEMO-AKU20-READY-7K3Q"

# ------------------------------------------------------------------ hostile values

hostile_text = st.one_of(
    st.sampled_from(ALL),
    st.text(max_size=40),
    st.text(alphabet=st.characters(categories=["Cc", "Nd", "No", "Nl", "Zs", "Sm", "Po"]), max_size=12),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)
hostile_json = st.recursive(
    st.one_of(hostile_text, st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=False),
              st.booleans(), st.none()),
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children, max_size=3)),
    max_leaves=8,
)


# ------------------------------------------------------------------ the app under attack


class Attack:
    """One app in role both (the simulator's demo codes), a client per role, and the checks."""

    def __init__(self, app, make_user, api_token) -> None:
        self.app = app
        self.fields = field_names()
        self.routes = routes(app)
        self.clients = {role: app.test_client() for role in ROLES}
        self.user_ids = {role: make_user(f"{role}@example.com", role) for role in ROLES[1:]}
        self.tokens = {role: api_token(role) for role in ROLES[1:]}
        self.tokens["anonymous"] = {}
        from webapp.environment.license_record import install_id
        from webapp.vendor_side import offline

        with app.app_context():
            self.install_id = install_id()
            order = offline.read_order({"install_id": self.install_id, "aku": "8", "days": "30",
                                        "contract": "C-1", "reason": "the valid key of the attack"})
            key = offline.issue_offline(order, actor="test").key
            self.key_id, self.product_key = key.id, key.product_key
        self.valid = {
            "install_id": self.install_id, "installId": self.install_id, "code": READY, "authorizationCode": READY,
            "authorization_code": READY, "aku": "4", "days": "30", "type": "subscription", "contract": "C-2",
            "reason": "because", "name": "kafka-1", "product_key": self.product_key, "productKey": self.product_key,
            "email": "admin@example.com", "password": PASSWORD, "action": "renew", "q": self.install_id,
            "status": "active", "panel": "update", "next": "/settings", "before": "1", "after": "1",
            "since": "2026-01-01", "until": "2030-01-01", "key_id": self.key_id, "instance_id": "1",
            "binding_id": "1", "limit": "10", "cursor": "", "aliUid": "1234567890120001", "last4": "7K3Q",
        }
        self.requests = 0
        self.statuses: dict[int, int] = {}

    def sign_in(self, role: str) -> None:
        """The role's session, set anew (a hostile POST /logout or /login may have changed it)."""
        with self.clients[role].session_transaction() as session:
            session.clear()
            if role != "anonymous":
                # User.get_id(): the id and the session generation, which a hostile logout moved on.
                with self.app.app_context():
                    session["_user_id"] = db.session.get(User, self.user_ids[role]).get_id()
                session["_fresh"] = True

    def snapshot(self) -> tuple:
        with self.app.app_context():
            state = db.session.get(EnvironmentState, 1)
            lic = None if state is None else (state.product_key, state.license_seq, state.license_aku,
                                              state.license_expires_at, state.authorization_code_encrypted)
            return (
                lic,
                sorted((i.id, i.name, i.aku) for i in db.session.scalars(db.select(Instance))),
                sorted((k.id, k.status, k.superseded_by) for k in db.session.scalars(db.select(IssuedKey))),
                sorted((b.id, b.state, b.install_id) for b in db.session.scalars(db.select(CodeBinding))),
            )

    def send(self, role: str, rule: str, method: str, path_values: dict[str, str], fields: dict,
             *, raw_body: str | None = None, htmx: bool = False):
        path = fill_path(rule, path_values)
        api = path.startswith("/api/v1")
        headers = dict(self.tokens[role]) if api else {}
        if htmx:
            headers["HX-Request"] = "true"
        self.sign_in(role)
        kwargs: dict = {"headers": headers}
        if method in ("GET", "DELETE"):
            kwargs["query_string"] = {k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}
        elif api:
            kwargs["data"] = raw_body if raw_body is not None else json.dumps(fields)
            kwargs["content_type"] = "application/json"
        else:
            kwargs["data"] = {k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}
        before = self.snapshot()
        response = self.clients[role].open(path, method=method, **kwargs)
        self.requests += 1
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        where = f"{method} {path[:120]} as {role}"
        assert response.status_code < 500, where
        body = response.get_data(as_text=True)
        if api and response.status_code != 204:
            assert response.mimetype == "application/json", where
            if response.status_code >= 400:
                error = json.loads(body)["error"]
                assert isinstance(error["code"], str) and isinstance(error["message"], str) and error["message"], where
        assert_no_hostile_markup(body, where)
        if response.status_code >= 400:
            assert self.snapshot() == before, f"{where} answered {response.status_code} and changed the license or keys"
        return response

    def pages_that_show_stored_text(self) -> None:
        """Read again, as admin, every page that lists what was stored."""
        with self.app.app_context():
            key_ids = [k for k in db.session.scalars(db.select(IssuedKey.id))]
        paths = ["/settings", "/settings/history", "/instances", "/vendor/keys", "/vendor/audit", "/vendor/attention",
                 "/vendor/demo-codes"] + [f"/vendor/keys/{k}" for k in key_ids]
        self.sign_in("admin")
        for path in paths:
            for headers in ({}, {"HX-Request": "true"}):
                response = self.clients["admin"].get(path, headers=headers)
                assert response.status_code == 200, path
                assert_no_hostile_markup(response.get_data(as_text=True), path)


def assert_no_hostile_markup(body: str, where: str) -> None:
    """No element of the page carries the attribute that only the hostile markup has."""
    elements = hostile_elements(body)
    assert not elements, f"{where}: markup sent became elements {elements}"


@pytest.fixture
def attack(app, make_user, api_token) -> Attack:
    return Attack(app, make_user, api_token)


def test_the_attack_reaches_every_route_and_field(attack):
    rules = {rule for rule, _, _ in attack.routes}
    assert {"/api/v1/redeem", "/api/v1/instances/<instance_id>", "/vendor/offline", "/login", "/settings/license",
            "/vendor/attention/<binding_id>/issue", "/instances/<instance_id>/resize"} <= rules
    assert {"aku", "days", "contract", "reason", "q", "before", "aliUid", "cursor", "productKey", "authorizationCode",
            "installId", "next", "email", "password", "name", "limit"} <= set(attack.fields)


def test_every_route_with_each_kind_of_hostile_value(attack):
    """Each kind of value in every field and address part of every route, as anonymous and as
    admin (who passes every role check, so the views read what was sent); half by htmx."""
    for kind, values in KINDS.items():
        for index, (rule, method, arguments) in enumerate(attack.routes):
            value = values[index % len(values)]
            path_values = {name: value for name in arguments}
            fields = {name: value for name in attack.fields}
            for role in ("anonymous", "admin"):
                raw = value if kind == "nested" else None
                attack.send(role, rule, method, path_values, fields, raw_body=raw, htmx=index % 2 == 0)
    # Valid values in the fields that decide whether anything is done (codes, install IDs,
    # numbers, keys), markup in every other: the views get past their checks, and what they
    # store (a key's reference, a reason, a name) holds the markup.
    for rule, method, arguments in attack.routes:
        if method == "GET":
            continue
        path_values = {name: attack.valid.get(name, "1") for name in arguments}
        for markup in MARKUP[:2]:
            fields = {name: attack.valid[name] if name in GATES else markup[:128] for name in attack.fields}
            attack.send("admin", rule, method, path_values, fields)
    with attack.app.app_context():  # the markup was stored, so reading the pages again means something
        assert db.session.scalar(db.select(IssuedKey.id).where(IssuedKey.reference.contains("data-hostile")))
        assert db.session.scalar(db.select(IssuedKey.id).where(IssuedKey.reason.contains("data-hostile")))
    attack.pages_that_show_stored_text()
    assert attack.requests > 500 and not [s for s in attack.statuses if s >= 500]


@settings(max_examples=250, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(data=st.data())
def test_hostile_requests_of_any_shape(attack, data):
    rule, method, arguments = data.draw(st.sampled_from(attack.routes), label="route")
    role = data.draw(st.sampled_from(ROLES), label="role")
    path_values = {name: data.draw(st.one_of(hostile_text, st.just(attack.valid.get(name, "1"))), label=name)
                   for name in arguments}
    names = data.draw(st.lists(st.sampled_from(attack.fields), unique=True, max_size=6), label="fields")
    api = rule.startswith("/api/v1")
    fields = {name: data.draw(st.one_of(hostile_json if api else hostile_text, st.just(attack.valid.get(name, "x"))),
                              label=name) for name in names}
    raw = data.draw(st.one_of(st.none(), st.sampled_from(NESTED), st.text(max_size=30)), label="raw body") if api else None
    attack.send(role, rule, method, path_values, fields, raw_body=raw, htmx=data.draw(st.booleans(), label="htmx"))
    if attack.requests % 50 == 0:
        attack.pages_that_show_stored_text()
