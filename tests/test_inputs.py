"""Issue 11, 500s from crafted input: every one answers 4xx with a message in words (JSON under
/api/v1). One rule per kind of input (`webapp.inputs`): whole numbers and ids, JSON bodies,
control characters, the login's `next`; and `Cache-Control: no-store` where keys are answered.
"""
from __future__ import annotations

import base64
import html
import re

import pytest

from webapp import inputs
from webapp.database import db
from webapp.environment.models import Instance

INSTALL = "0123456789abcdef0123456789abcdef"
READY = "DEMO-AKU20-READY-7K3Q"
# Numbers that are not whole numbers in ASCII digits, or are past 64 bits.
BAD_NUMBERS = ["²", "１", "٣", "1" * 5000, "9" * 30, str(2**63), "-1", "+4", "4.0", "1e3", "0x10", ""]
# Under the smallest body limit of the JSON API (8 KiB), so that each one is parsed.
DEEP_BODIES = ["[" * 8000, '{"a":' * 1500, "[" * 4000 + "]" * 4000, '{"productKey": ' + "[" * 100 + "]" * 100 + "}"]


def text(response) -> str:
    return response.get_data(as_text=True)


def error_code(response) -> str:
    return response.get_json()["error"]["code"]


# ------------------------------------------------------------------ the rules themselves


def test_whole_numbers_are_ascii_digits_within_range():
    assert inputs.whole_number("4", 1, 10) == 4
    assert inputs.whole_number(" 4 ", 1, 10) == 4
    assert inputs.whole_number(4, 1, 10) == 4
    assert inputs.whole_number("0004", 1, 10) == 4
    for value in BAD_NUMBERS + [True, None, 4.0, [4], "11", 11, 0]:
        assert inputs.whole_number(value, 1, 10) is None, value
    assert inputs.whole_number("²", 0, 10**30) is None  # isdigit() says yes, int() says no
    assert inputs.whole_number("１", 0, 10) is None  # int() reads it as 1


def test_ids_are_within_their_columns_range():
    """Ids and seqs are INTEGER columns (32 bits on PostgreSQL); the AliUid is a BIGINT."""
    assert inputs.record_id(str(2**31 - 1)) == 2**31 - 1
    assert inputs.record_id(2**31 - 1) == 2**31 - 1
    for value in (str(2**31), 2**31, str(2**63), "0", 0, "-1", "１", "1" * 5000):
        assert inputs.record_id(value) is None, value
    assert inputs.account_id(str(2**63 - 1)) == 2**63 - 1
    for value in (str(2**63), "0", "１２３", "²"):
        assert inputs.account_id(value) is None, value


def test_a_next_address_stays_on_this_site_in_one_line():
    assert inputs.same_site_path("/vendor/keys?q=a b") == "/vendor/keys?q=a b"
    for target in ("https://evil.test/", "//evil.test", "/\\evil.test", "settings", "/x\r\nSet-Cookie: a=b",
                   "/x\nb", "/x\tb", "/x\x00", "/x\x7f", None, ""):
        assert inputs.same_site_path(target) is None, target


def test_json_nesting_is_refused_without_recursion():
    inputs.check_json({"a": [[[1]]]})
    deep: list = []
    for _ in range(10_000):  # deeper than Python's recursion limit: the walk does not recurse
        deep = [deep]
    with pytest.raises(inputs.InputRefused) as refused:
        inputs.check_json(deep)
    assert refused.value.api_code == "invalid_json" and "20 levels" in refused.value.description
    with pytest.raises(inputs.InputRefused) as refused:
        inputs.check_json({"reason": "a\x00b"})
    assert refused.value.api_code == "invalid_characters" and "'reason'" in refused.value.description
    inputs.check_json({"productKey": "line one\nline two\ttab\r\n"})  # line breaks and tabs pass


# ------------------------------------------------------------------ deeply nested JSON


def _json_routes(app) -> list[tuple[str, str]]:
    """Every (method, path) of the JSON API that takes a body, from the URL map: new routes are
    covered without editing this test. Path arguments are filled with 1."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<[^>]+>", "1", rule.rule)
        for method in sorted((rule.methods or set()) & {"POST", "PATCH", "PUT"}):
            found.append((method, path))
    return found


def test_the_json_routes_are_found(app):
    routes = _json_routes(app)
    for route in (("POST", "/api/v1/redeem"), ("POST", "/api/v1/product-keys"), ("POST", "/api/v1/instances"),
                  ("PATCH", "/api/v1/instances/1"), ("POST", "/api/v1/environment/license")):
        assert route in routes


@pytest.mark.parametrize("body", DEEP_BODIES, ids=["brackets", "objects", "closed", "inside-a-member"])
def test_deeply_nested_json_answers_400_on_every_json_route(app, client, api_token, body):
    admin = api_token("admin")  # passes every role check, so the body is read
    with app.app_context():
        db.session.add(Instance(id=1, name="kafka-1", aku=1, created_at=_now(), updated_at=_now(), created_by="t"))
        db.session.commit()
    for method, path in _json_routes(app):
        response = client.open(path, method=method, data=body, content_type="application/json", headers=admin)
        assert 400 <= response.status_code < 500, (method, path, response.status_code)
        if path != "/api/v1/environment/renewal-check":  # the one route that reads no body
            assert response.status_code == 400 and error_code(response) == "invalid_json", (method, path)
            assert "levels deep" in response.get_json()["error"]["message"]


def test_the_anonymous_redemption_refuses_nested_json_with_a_message(client):
    response = client.post("/api/v1/redeem", data="[" * 8000, content_type="application/json")
    assert response.status_code == 400 and error_code(response) == "invalid_json"
    response = client.post("/api/v1/redeem", data='{"authorizationCode": ', content_type="application/json")
    assert response.status_code == 400 and error_code(response) == "invalid_json"
    assert "line 1, column" in response.get_json()["error"]["message"]
    # Sent as another type, or as JSON of another shape: what to send, as before.
    assert error_code(client.post("/api/v1/redeem", data="[1]", content_type="application/json")) == "bad_request"
    assert error_code(client.post("/api/v1/redeem", data="x", content_type="text/plain")) == "bad_request"


# ------------------------------------------------------------------ numbers


def _now():
    from datetime import datetime, timezone

    return datetime(2026, 11, 1, tzinfo=timezone.utc)


@pytest.fixture
def op(api_token):
    return api_token("operator")


@pytest.mark.parametrize("aku", BAD_NUMBERS + [2**70, True, 1.5, None])
def test_instances_api_refuses_numbers_that_are_not_whole_numbers(app, client, op, aku):
    response = client.post("/api/v1/instances", json={"name": "kafka-1", "aku": aku}, headers=op)
    assert response.status_code == 422 and error_code(response) == "invalid_aku"
    assert "digits 0-9" in response.get_json()["error"]["message"]
    created = client.post("/api/v1/instances", json={"name": "kafka-2", "aku": 2}, headers=op).get_json()
    response = client.patch(f"/api/v1/instances/{created['id']}", json={"aku": aku}, headers=op)
    assert response.status_code == 422 and error_code(response) == "invalid_aku"
    with app.app_context():
        assert [(i.name, i.aku) for i in db.session.scalars(db.select(Instance))] == [("kafka-2", 2)]


@pytest.mark.parametrize("ident", ["1" * 30, str(2**63), str(2**31), "99999999999999999999", "１", "²", "0", "x"])
def test_instances_api_answers_404_for_an_id_that_is_not_one(app, client, op, ident):
    created = client.post("/api/v1/instances", json={"name": "kafka-1", "aku": 1}, headers=op).get_json()
    assert created["id"] == 1  # so "１" would have named it
    for response in (client.delete(f"/api/v1/instances/{ident}", headers=op),
                     client.patch(f"/api/v1/instances/{ident}", json={"aku": 2}, headers=op)):
        assert response.status_code == 404 and error_code(response) == "not_found"
    assert len(client.get("/api/v1/instances", headers=op).get_json()["items"]) == 1


@pytest.mark.parametrize("value", ["²", "１", "1" * 5000, str(2**63)])
def test_instances_page_refuses_them_too(app, client, auth, value):
    auth.login("operator")
    response = client.post("/instances", data={"name": "kafka-1", "aku": value})
    assert response.status_code == 422 and "whole number of AKU" in text(response)
    assert client.post("/instances", data={"name": "kafka-1", "aku": "1"}).status_code == 303
    assert client.post(f"/instances/{value}/resize", data={"aku": "2"}).status_code == 404
    assert client.post(f"/instances/{value}/delete").status_code == 404
    assert client.post("/instances/1/resize", data={"aku": value}).status_code == 422
    with app.app_context():
        assert [(i.name, i.aku) for i in db.session.scalars(db.select(Instance))] == [("kafka-1", 1)]


@pytest.mark.parametrize("value", ["99999999999999999999999", str(2**31), "１", "²"])
def test_needs_attention_answers_404_for_a_binding_that_is_not_one(client, auth, value):
    auth.login("issuer")
    assert client.post(f"/vendor/attention/{value}/issue").status_code == 404


@pytest.mark.parametrize("q", ["²", "9999999999999999999", "99999999999999999999", "１２３", "1" * 5000])
def test_the_keys_search_box_takes_any_text(client, auth, q):
    auth.login("issuer")
    response = client.get("/vendor/keys", query_string={"q": q})
    assert response.status_code == 200 and "No keys" in text(response) or "key-results" in text(response)


def test_the_keys_api_refuses_account_ids_and_cursors_it_cannot_read(client, api_token):
    issuer = api_token("issuer")
    client.post("/api/v1/product-keys", json={"authorizationCode": READY, "installId": INSTALL}, headers=issuer)
    assert client.get("/api/v1/product-keys", query_string={"aliUid": "1234567890120001"},
                      headers=issuer).get_json()["items"]
    for uid in ("²", "１２３", "9" * 30, str(2**63), "1" * 5000, "-5"):
        response = client.get("/api/v1/product-keys", query_string={"aliUid": uid}, headers=issuer)
        assert response.status_code == 422 and error_code(response) == "invalid_ali_uid", uid
    real = "2026-11-01T09:00:00.000000|1|00000000-0000-4000-8000-000000000000"
    assert client.get("/api/v1/product-keys", query_string={"cursor": _cursor(real)}, headers=issuer).status_code == 200
    for raw in (real.replace("|1|", f"|{2**70}|"), real.replace("|1|", f"|{2**31}|"), real.replace("|1|", "|１|"), real.replace("|1|", "|²|"),
                real[:-1] + "\x00", "２０２６" + real[4:], "x"):
        response = client.get("/api/v1/product-keys", query_string={"cursor": _cursor(raw)}, headers=issuer)
        assert response.status_code == 422 and error_code(response) == "invalid_cursor", raw
    for limit in ("１", "²", "1" * 5000, "-1"):
        response = client.get("/api/v1/product-keys", query_string={"limit": limit}, headers=issuer)
        assert response.status_code == 422 and error_code(response) == "invalid_limit", limit
    assert client.get("/api/v1/product-keys", query_string={"limit": "500"}, headers=issuer).status_code == 200


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize("value", ["99999999999999999999999", str(2**63), str(2**31), "１", "²"])
def test_the_audit_log_pages_fall_back_to_the_newest_for_a_cursor_that_is_not_an_event(client, auth, value):
    auth.login("issuer")
    newest = text(client.get("/vendor/audit"))
    for name in ("before", "after"):
        response = client.get("/vendor/audit", query_string={name: value})
        assert response.status_code == 200
        assert re.findall(r'id="event-(\d+)"', text(response)) == re.findall(r'id="event-(\d+)"', newest)


@pytest.mark.parametrize("value", ["²", "１", "1" * 5000, str(2**63)])
def test_the_offline_form_says_what_is_wrong_with_aku_and_days(client, auth, value):
    auth.login("admin")
    response = client.post("/vendor/offline", data={"install_id": INSTALL, "aku": value, "days": value,
                                                    "contract": "C-1", "type": "subscription", "reason": "r"})
    assert response.status_code == 422
    assert "AKU must be a whole number" in text(response) and "Days must be a whole number" in text(response)


# ------------------------------------------------------------------ the login's next


@pytest.mark.parametrize("target", ["/x\r\nSet-Cookie: a=b", "/x\nb", "/\\evil.test", "//evil.test"])
def test_a_next_address_with_a_line_break_or_another_host_is_ignored(client, make_user, target):
    make_user("staff@example.com", "issuer")
    response = client.post("/login", query_string={"next": target},
                           data={"email": "staff@example.com", "password": "correct horse battery"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_a_next_address_on_this_site_is_followed(client, make_user):
    make_user("staff@example.com", "issuer")
    response = client.post("/login", query_string={"next": "/vendor/keys?q=a"},
                           data={"email": "staff@example.com", "password": "correct horse battery"})
    assert response.status_code == 303 and response.headers["Location"] == "/vendor/keys?q=a"


# ------------------------------------------------------------------ control characters


def test_a_control_character_in_any_field_answers_400_before_anything_is_read(app, client, auth, api_token):
    """PostgreSQL refuses NUL in text (a 500 there); nothing a person types holds one."""
    response = client.post("/login", data={"email": "a\x00@example.com", "password": "x"})
    assert response.status_code == 400 and "control character (U+0000)" in text(response)
    response = client.post("/redeem", data={"code": READY, "install_id": INSTALL + "\x1b"})
    assert response.status_code == 400 and "'install_id'" in html.unescape(text(response))
    auth.login("admin")
    for path in ("/vendor/keys?q=%00", "/vendor/keys/%00", "/vendor/audit?actor=a%00", "/vendor/audit?a%00=1"):
        assert client.get(path).status_code == 400, path
    response = client.post("/vendor/offline", data={"install_id": INSTALL, "aku": "4", "days": "30",
                                                    "contract": "C\x00", "type": "subscription", "reason": "r"})
    assert response.status_code == 400
    # Line breaks and tabs are text: a reason may have several lines.
    response = client.post("/vendor/offline", data={"install_id": INSTALL, "aku": "4", "days": "30",
                                                    "contract": "C-1", "type": "subscription", "reason": "one\r\ntwo\tthree"})
    assert response.status_code == 303
    issuer = api_token("issuer")
    for query in ({"last4": "ab\x00c"}, {"code": "AB\x00"}, {"installId": "\x00"}):
        response = client.get("/api/v1/product-keys", query_string=query, headers=issuer)
        assert response.status_code == 400 and error_code(response) == "invalid_characters", query
    for body in ('{"productKey": "abc\\u0000def"}', '{"productKey": "abc\\ud800def"}', '{"a\\u0000": 1}'):
        response = client.post("/api/v1/environment/license", data=body, content_type="application/json",
                               headers=api_token("operator"))
        assert response.status_code == 400 and error_code(response) == "invalid_characters", body
    response = client.post("/api/v1/redeem", data='{"authorizationCode": "AB\\u0000CD", "installId": "x"}',
                           content_type="application/json")
    assert response.status_code == 400 and error_code(response) == "invalid_characters"


# ------------------------------------------------------------------ caches


def test_answers_that_carry_product_keys_and_the_audit_trail_are_not_stored(app, client, auth, api_token):
    app.config["LICENSE_SECURITY_HEADERS"] = False  # no-store holds on these whatever that says
    issuer = api_token("issuer")
    created = client.post("/api/v1/product-keys", json={"authorizationCode": READY, "installId": INSTALL},
                          headers=issuer)
    again = client.post("/api/v1/product-keys", json={"authorizationCode": READY, "installId": INSTALL},
                        headers=issuer)
    found = client.get("/api/v1/product-keys", headers=issuer)
    redeemed = client.post("/api/v1/redeem", json={"authorizationCode": READY, "installId": INSTALL})
    for response in (created, again, found, redeemed):
        assert response.status_code in (200, 201) and "productKey" in text(response)
        assert response.headers["Cache-Control"] == "no-store"
    auth.login("issuer")
    exported = client.get("/vendor/audit.csv")
    assert exported.status_code == 200 and exported.headers["Cache-Control"] == "no-store"


# ------------------------------------------------------------------ the error page after a failed statement


def test_an_unexpected_error_after_a_failed_statement_still_answers_its_page(app, caplog):
    """A failed flush leaves the session's transaction aborted; the 500 page (whose header reads
    the license) is answered anyway, not an error inside the error handler."""
    from flask import Blueprint
    from sqlalchemy.exc import IntegrityError

    from webapp import errors

    bp = Blueprint("probe_failed_flush", __name__)

    @bp.route("/probe/failed-flush")
    def failed_flush():
        db.session.add(Instance(name="kafka-1", aku=0, created_at=_now(), updated_at=_now(), created_by="t"))
        db.session.flush()  # aku > 0 is a check constraint: IntegrityError

    app.register_blueprint(bp)
    app.testing = False
    app.config["PROPAGATE_EXCEPTIONS"] = False
    app.register_error_handler(Exception, errors.handle_unexpected)
    client = app.test_client()
    from tests.conftest import AuthActions

    def make_user(email, role, password):
        from webapp.auth import create_user

        with app.app_context():
            create_user(email, password, role)
            db.session.commit()

    AuthActions(client, make_user).login("operator")
    response = client.get("/probe/failed-flush")
    assert response.status_code == 500 and "Something went wrong" in text(response)
    assert any(isinstance(r.exc_info[1], IntegrityError) for r in caplog.records if r.exc_info)
