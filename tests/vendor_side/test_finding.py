"""Finding and explaining keys: the search API and page, the key page's timeline, the decoder,
the audit log and its CSV export."""
from __future__ import annotations

import base64
import csv
import html as html_lib
import io
import json
import re

import pytest

from webapp.database import db
from webapp.vendor_side.models import IssuedKey

from .conftest import INSTALL, OTHER_INSTALL, sim

READY = "DEMO-AKU20-READY-7K3Q"
READY40 = "DEMO-AKU40-READY-9M2X"
ACTIVE = "DEMO-AKU20-ACTIVE-4T8P"


@pytest.fixture
def app_config():
    return {}


@pytest.fixture
def issued(app, client, issuer_api):
    """Three environments: one renewed (two keys), one renewed at the marketplace with no new key
    yet, one with an offline contract."""
    def redeem(code, install):
        response = client.post("/api/v1/product-keys", json={"authorizationCode": code, "installId": install},
                               headers=issuer_api)
        assert response.status_code in (200, 201), response.get_json()
        return response.get_json()

    first = redeem(READY, INSTALL)
    sim(app).renew(READY, days=30)
    second = redeem(READY, INSTALL)
    third = redeem(ACTIVE, OTHER_INSTALL)
    from webapp.vendor_side.reconcile import reconcile

    sim(app).renew(ACTIVE, days=30)
    with app.app_context():
        reconcile()
    with app.app_context():
        from datetime import datetime, timedelta, timezone

        from webapp.vendor_side.ledger import issue_key

        issue_key(install_id="a" * 32, aku=8, expires_at=datetime.now(timezone.utc) + timedelta(days=90),
                  type="subscription", channel="offline-contract", reference="CONTRACT-77", product="P", issued_by="t")
        db.session.commit()
    return {"first": first, "second": second, "third": third}


def items(client, headers, **params):
    response = client.get("/api/v1/product-keys", query_string=params, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_search_api_by_each_index(app, client, issuer_api, issued):
    by_install = items(client, issuer_api, installId=INSTALL)["items"]
    assert [(i["seq"], i["status"]) for i in by_install] == [(2, "active"), (1, "superseded")]
    assert by_install[0]["code"] == "****7K3Q" and READY not in json.dumps(by_install)
    assert [i["seq"] for i in items(client, issuer_api, code=READY)["items"]] == [2, 1]
    assert [i["installId"] for i in items(client, issuer_api, last4="4T8P")["items"]] == [OTHER_INSTALL]
    assert [i["installId"] for i in items(client, issuer_api, last4="****4T8P")["items"]] == [OTHER_INSTALL]
    assert len(items(client, issuer_api, aliUid="1234567890120001")["items"]) == 2
    assert items(client, issuer_api, aliUid="1234567890120001")["items"][0]["aliUid"] == "1234****0001"


@pytest.mark.parametrize("status, expected", [
    ("active", {("a" * 32, 1), (INSTALL, 2)}),
    ("superseded", {(INSTALL, 1)}),
    ("renewed", {(OTHER_INSTALL, 1)}),
    ("expired", set()),
])
def test_search_api_by_status(app, client, issuer_api, issued, status, expected):
    found = items(client, issuer_api, status=status)["items"]
    assert {(i["installId"], i["seq"]) for i in found} == expected
    assert all(i["status"] == status for i in found)


def test_search_api_pages_with_a_cursor(app, client, issuer_api, issued):
    page1 = items(client, issuer_api, limit=2)
    assert len(page1["items"]) == 2 and page1["next"]
    page2 = items(client, issuer_api, limit=2, cursor=page1["next"])
    assert len(page2["items"]) == 2 and page2["next"] is None
    ids = [i["id"] for i in page1["items"] + page2["items"]]
    assert len(set(ids)) == 4


@pytest.mark.parametrize("params, code", [
    ({"installId": "zz"}, "invalid_install_id"),
    ({"status": "weird"}, "invalid_status"),
    ({"last4": "12"}, "invalid_last4"),
    ({"aliUid": "abc"}, "invalid_ali_uid"),
    ({"cursor": "!!!"}, "invalid_cursor"),
])
def test_search_api_refuses_bad_parameters(app, client, issuer_api, params, code):
    response = client.get("/api/v1/product-keys", query_string=params, headers=issuer_api)
    assert response.status_code == 422 and response.get_json()["error"]["code"] == code


def test_keys_page_active_search(app, client, auth, issued):
    auth.login("issuer")
    page = client.get("/vendor/keys")
    assert page.status_code == 200 and 'hx-trigger="keyup changed delay:200ms from:#q' in page.get_data(as_text=True)
    assert 'method="get" action="/vendor/keys"' in page.get_data(as_text=True)  # a plain form without JS
    for q, expected in ((INSTALL, [INSTALL]), ("7K3Q", [INSTALL]), (ACTIVE, [OTHER_INSTALL]),
                        ("1234567890120003", [OTHER_INSTALL]), ("CONTRACT-77", ["a" * 32])):
        html = client.get("/vendor/keys", query_string={"q": q}, headers={"HX-Request": "true"}).get_data(as_text=True)
        assert html.startswith('\n<section class="card" id="key-results"') or 'id="key-results"' in html[:200]
        found = {i for i in (INSTALL, OTHER_INSTALL, "a" * 32) if f'data-copy="{i}"' in html}
        assert found == set(expected), q
    html = client.get("/vendor/keys", query_string={"status": "renewed"}).get_data(as_text=True)
    assert "Renewed, no new key" in html and f'data-copy="{OTHER_INSTALL}"' in html


def test_key_page_shows_the_timeline(app, client, auth, issued):
    auth.login("issuer")
    first = issued["first"]["license"]["id"]
    response = client.get(f"/vendor/keys/{first}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "badge-muted\">Superseded" in html
    for words in ("Authorization code bound", "Activated at the marketplace", "Key issued", "Superseded", "Expires"):
        assert words in html, words
    assert 'id="superseded-warning"' in html and issued["second"]["license"]["id"] in html.split("superseded-warning")[1]
    assert re.search(r"Key issued</strong>: seq 1, 20 AKU until \d{4}-\d\d-\d\d \d\d:\d\d UTC. New license", html)
    second = client.get(f"/vendor/keys/{issued['second']['license']['id']}").get_data(as_text=True)
    assert "superseded-warning" not in second and "market-warning" not in second
    sim(app).discard(READY)
    from webapp.vendor_side.reconcile import reconcile

    with app.app_context():
        reconcile()
    second = client.get(f"/vendor/keys/{issued['second']['license']['id']}").get_data(as_text=True)
    assert 'id="market-warning"' in second and "discarded (refunded or cancelled)" in second
    fragment = client.get(f"/vendor/keys/{first}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert fragment.lstrip().startswith('<ol class="timeline"')
    assert client.get("/vendor/keys/nope").status_code == 404


def test_decoder_explains_any_key(app, client, auth, issued):
    auth.login("issuer")
    first = issued["first"]
    pasted = "\n".join(first["productKey"][i:i + 60] for i in range(0, len(first["productKey"]), 60))
    html = client.post("/vendor/decode", data={"product_key": pasted}, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Signature valid" in html and first["license"]["id"] in html and "Superseded" in html
    with app.app_context():
        kid = db.session.get(IssuedKey, first["license"]["id"]).kid
    assert kid in html

    current = issued["second"]["productKey"]
    assert "Not superseded" in client.post("/vendor/decode", data={"product_key": current}).get_data(as_text=True)

    envelope = json.loads(base64.b64decode(current))
    envelope["license"]["aku"] = 9999
    forged = base64.b64encode(json.dumps(envelope).encode()).decode()
    html = client.post("/vendor/decode", data={"product_key": forged}).get_data(as_text=True)
    assert re.search(r'<div class="error-box" role="alert" id="signature-result" data-error-code="signature_invalid" hx-disable>', html)
    assert "9999" in html and "do not trust them" in html

    html = client.post("/vendor/decode", data={"product_key": "hello"}).get_data(as_text=True)
    assert 'id="decode-error"' in html and 'data-error-code="malformed_key"' in html


def test_audit_log_filters_and_csv(app, client, auth, issued):
    auth.login("issuer")
    html = client.get("/vendor/audit", query_string={"action": "key_issued"}).get_data(as_text=True)
    assert html.count('<span class="audit-action">Key issued</span>') == 3
    assert html.count('<code class="muted small" title="Action code">key_issued</code>') == 3
    html = client.get("/vendor/audit", query_string={"install_id": OTHER_INSTALL}, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "code_bound" in html and f'data-copy="{INSTALL}"' not in html
    response = client.get("/vendor/audit.csv", query_string={"action": "key_issued"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    table = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert table[0][:4] == ["id", "at", "actor", "action"] and len(table) == 4
    assert {row[3] for row in table[1:]} == {"key_issued"}
    assert READY not in response.get_data(as_text=True)


def test_audit_csv_cells_cannot_be_formulas(app, client, auth):
    from webapp import audit

    with app.app_context():
        audit.record("note", actor="=HYPERLINK(\"x\")", subject="-2+3", install_id="@SUM(A1)", detail="+1",
                     after="\t=1", commit=True)
    auth.login("issuer")
    table = list(csv.reader(io.StringIO(client.get("/vendor/audit.csv").get_data(as_text=True))))
    header, row = table[0], next(r for r in table if r[3] == "note")
    cells = dict(zip(header, row))
    assert cells["actor"].startswith("'=") and cells["subject"] == "'-2+3" and cells["install_id"] == "'@SUM(A1)"
    assert cells["detail"] == "'+1" and cells["after"] == "'\t=1"
    assert not any(cell[:1] in "=+-@\t\r" for r in table[1:] for cell in r if cell)


def test_audit_filters_combine_and_page(app, client, auth, issued):
    auth.login("issuer")
    html = client.get("/vendor/audit", query_string={"action": "key_issued", "install_id": INSTALL.upper()}).get_data(as_text=True)
    assert html.count('<span class="audit-action">Key issued</span>') == 2 and f'data-copy="{OTHER_INSTALL}"' not in html
    assert "No events match" in client.get("/vendor/audit", query_string={"since": "2999-01-01"}).get_data(as_text=True)
    with app.app_context():
        from webapp import audit

        for i in range(60):
            audit.record("note", actor="pager", detail=str(i))
        db.session.commit()
    first = client.get("/vendor/audit", query_string={"actor": "pager"}).get_data(as_text=True)
    assert first.count("<em>") == 50 and "Older events" in first
    older = re.search(r'hx-get="([^"]+)"', first.split("Older events")[0].rsplit("<a", 1)[1]).group(1)
    rest = client.get(html_lib.unescape(older), headers={"HX-Request": "true"}).get_data(as_text=True)
    assert rest.count("<em>") == 10 and "Older events" not in rest
    csv_link = re.search(r'id="audit-csv" href="([^"]+)"', first).group(1)
    table = list(csv.reader(io.StringIO(client.get(html_lib.unescape(csv_link)).get_data(as_text=True))))
    assert len(table) == 61 and {r[2] for r in table[1:]} == {"pager"}  # the export keeps the filters


def test_an_expired_key_is_found_by_its_status(app, client, issuer_api, auth, issued):
    from datetime import datetime, timedelta, timezone

    from webapp.vendor_side.ledger import issue_key

    old = "b" * 32
    with app.app_context():
        now = datetime.now(timezone.utc)
        issue_key(install_id=old, aku=4, expires_at=now - timedelta(days=10), type="subscription",
                  channel="offline-contract", reference="OLD-1", product="P", issued_by="t", now=now - timedelta(days=100))
        db.session.commit()
    assert [(i["installId"], i["status"]) for i in items(client, issuer_api, status="expired")["items"]] == [(old, "expired")]
    assert old not in {i["installId"] for i in items(client, issuer_api, status="active")["items"]}
    auth.login("issuer")
    html = client.get("/vendor/keys", query_string={"status": "expired"}).get_data(as_text=True)
    assert f'data-copy="{old}"' in html and 'badge-danger">Expired' in html and f'data-copy="{INSTALL}"' not in html


def test_keys_page_pages_with_and_without_htmx(app, client, auth):
    from datetime import datetime, timedelta, timezone

    from webapp.vendor_side.ledger import issue_key

    with app.app_context():
        for i in range(30):
            issue_key(install_id=f"{i:032x}", aku=1, expires_at=datetime.now(timezone.utc) + timedelta(days=9),
                      type="subscription", channel="offline-contract", reference=f"C-{i}", product="P", issued_by="t")
        db.session.commit()
    auth.login("issuer")
    first = client.get("/vendor/keys", query_string={"status": "active"}).get_data(as_text=True)
    link = re.search(r'<a class="button" href="([^"]+)"\s+hx-get="([^"]+)"', first)
    assert first.count('class="timeline-row"') == 25 and link and link.group(1) == link.group(2)
    next_url = html_lib.unescape(link.group(1))
    assert "status=active" in next_url and "cursor=" in next_url
    for headers in ({}, {"HX-Request": "true"}):
        second = client.get(next_url, headers=headers).get_data(as_text=True)
        assert second.count('class="timeline-row"') == 5 and "Next page" not in second
        assert ("<h1>Keys</h1>" in second) == (not headers)  # the page without JS, the fragment with
    found = set(re.findall(r'<tr id="key-([^"]+)"', first)) | set(re.findall(r'<tr id="key-([^"]+)"', second))
    assert len(found) == 30


def test_a_whole_code_searched_is_not_pushed_into_the_history(app, client, auth, issued):
    auth.login("issuer")
    response = client.get("/vendor/keys", query_string={"q": READY, "status": "active"}, headers={"HX-Request": "true"})
    assert f'data-copy="{INSTALL}"' in response.get_data(as_text=True)
    assert response.headers["HX-Push-Url"] == "/vendor/keys?q=****7K3Q&status=active"
    other = client.get("/vendor/keys", query_string={"q": "7K3Q"}, headers={"HX-Request": "true"})
    assert "HX-Push-Url" not in other.headers  # anything else is pushed as typed
