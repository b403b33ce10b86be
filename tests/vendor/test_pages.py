"""How the vendor's pages read (issue 8): the audit log's before/after tables, short install IDs
and pages of events; times written one way; /redeem laid out like the staff pages; error
headlines that do not repeat their body; the environment's banners only on its own pages."""
from __future__ import annotations

import html as html_lib
import re
from datetime import datetime, timezone

import pytest

from webapp import audit
from webapp.extensions import db
from webapp.models.audit import AuditEvent

from .conftest import INSTALL, OTHER_INSTALL

READY = "DEMO-AKU20-READY-7K3Q"
SHORT = "01234567…cdef"  # INSTALL as the pages show it


@pytest.fixture
def app_config():
    return {}  # the simulator with its demo codes


def text(response) -> str:
    return response.get_data(as_text=True)


def rows(page: str) -> list[int]:
    """The event ids of an audit log page, in order."""
    return [int(i) for i in re.findall(r'<tr id="event-(\d+)"', page)]


def link(page: str, label: str) -> tuple[str, str]:
    """The href and hx-get of the pager link named `label`."""
    m = re.search(r'<a class="button"(?: rel="\w+")? href="([^"]+)" hx-get="([^"]+)"[^>]*>[^<]*' + re.escape(label), page)
    assert m, f"no {label!r} link"
    return html_lib.unescape(m.group(1)), html_lib.unescape(m.group(2))


def record_many(app, n: int, **values) -> None:
    with app.app_context():
        for i in range(n):
            audit.record("instance_grown", actor="operator@example.com", subject=f"instance:{i}",
                         install_id=INSTALL, before={"name": f"kafka-{i}", "aku": 4},
                         after={"name": f"kafka-{i}", "aku": 6}, **values)
        db.session.commit()


# ------------------------------------------------------------------ what changed, field by field


def test_changes_lists_every_recorded_field_and_marks_the_differences():
    before = {"id": "0b8c239c-04e9-434d-801f-b9a33613c7ef", "seq": 1, "aku": 20,
              "expiresAt": "2027-11-01T03:20:12Z", "product": "P", "channel": "alibaba-marketplace"}
    after = dict(before, id="6d4b352c-c4d6-483d-bb31-c15f5a7f889d", seq=2, aku=40,
                 expiresAt="2027-12-01T03:20:12Z", change="renewal_and_spec_change", code="****7K3Q")
    c = audit.changes(before, after)
    assert c.before and c.after
    names = [r.name for r in c.rows]
    assert names[:4] == ["change", "aku", "expiresAt", "seq"] and names[-1] == "id"
    assert set(names) == set(before) | set(after)  # only the fields that exist, each once
    by = {r.name: r for r in c.rows}
    assert {n for n, r in by.items() if r.changed} == {"aku", "expiresAt", "seq", "id"}
    assert not by["change"].changed and by["change"].in_after and not by["change"].in_before
    assert by["expiresAt"].kind == "time" and by["id"].kind == "id" and by["aku"].label == "AKU"
    # The table: what changed and what only one side recorded; the same values and the record's
    # bookkeeping go in one line below it.
    assert [r.name for r in c.shown] == ["change", "aku", "expiresAt", "seq", "code"]
    assert [r.name for r in c.folded] == ["product", "channel", "id"]


def test_changes_of_one_sided_and_odd_events():
    created = audit.changes(None, {"name": "kafka-1", "aku": 4})
    assert not created.before and created.after and not any(r.changed for r in created.rows)
    deleted = audit.changes({"name": "kafka-1", "aku": 4}, None)
    assert deleted.before and not deleted.after
    moved = audit.changes({"installId": INSTALL}, {"installId": OTHER_INSTALL})
    assert [(r.label, r.kind, r.changed) for r in moved.rows] == [("Install ID", "install_id", True)]
    bare = audit.changes(None, "\t=1")
    assert [(r.label, r.after) for r in bare.rows] == [("Value", "\t=1")]
    assert audit.changes(None, None).rows == []
    assert audit.changes(None, {"needs_key": 2, "orderIds": ["1", "2"]}).rows[1].label == "Needs key"
    assert audit.show_value(["1", "2"]) == "1, 2" and audit.show_value(None) == "—"


def test_the_audit_log_shows_a_before_and_after_table_not_json(app, client, auth, issuer_api):
    for _ in range(2):
        client.post("/api/v1/product-keys", json={"authorizationCode": READY, "installId": INSTALL}, headers=issuer_api)
        from .conftest import sim

        sim(app).renew(READY, days=30)
    auth.login("issuer")
    page = text(client.get("/vendor/audit", query_string={"action": "key_issued"}))
    assert '{"aku"' not in page and "&#34;aku&#34;" not in page  # no raw JSON
    renewal = page[page.index('<tr id="event-'):].split('<tr id="event-')[1]  # the newest: the renewal
    assert "<th scope=\"col\">Before</th>" in renewal and "<th scope=\"col\">After</th>" in renewal
    changed = re.findall(r'<tr class="changed">\s*<th scope="row">([^<]+)</th>', renewal)
    assert "Expires" in changed and "Seq" in changed and "AKU" not in changed  # same AKU: not in the table
    assert re.search(r"Also recorded: AKU 20; Product [^<]+; Reference \*\*\*\*7K3Q;", renewal)
    assert re.search(r"<time datetime=\"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\">\d{4}-\d\d-\d\d \d\d:\d\d UTC</time>", renewal)


def test_install_ids_are_short_with_the_whole_value_to_copy(app, client, auth):
    record_many(app, 1)
    auth.login("issuer")
    page = text(client.get("/vendor/audit"))
    cell = next(c for c in re.findall(r'<td data-label="Install ID">(.*?)</td>', page, re.S) if c)
    assert SHORT in cell and f'title="{INSTALL}"' in cell and f'data-copy="{INSTALL}"' in cell
    assert f">{INSTALL}<" not in page  # never written out whole
    assert f'href="/vendor/audit?install_id={INSTALL}"' in cell  # and a click filters by it
    assert re.search(r'<button type="button" class="small copy" data-copy="' + INSTALL + r'" aria-label="Copy install ID ' + SHORT, cell)


# ------------------------------------------------------------------ pages of events


def test_hundreds_of_events_are_read_a_page_at_a_time(app, client, auth):
    record_many(app, 320)
    auth.login("issuer")
    with app.app_context():
        total = db.session.query(AuditEvent).count()
    first = text(client.get("/vendor/audit"))
    assert len(rows(first)) == audit.PAGE_SIZE == 50
    assert "Newer events" not in first and "Newest events" not in first
    seen, page, pages = list(rows(first)), first, [rows(first)]
    while "Older events" in page:
        href, hx = link(page, "Older events")
        assert href == hx and "before=" in href
        plain = text(client.get(href))  # without JavaScript: the whole page
        fragment = text(client.get(hx, headers={"HX-Request": "true"}))  # htmx: the results only
        assert "<h1>Audit log</h1>" in plain and "<h1>" not in fragment and rows(plain) == rows(fragment)
        assert 0 < len(rows(fragment)) <= 50
        page = fragment
        pages.append(rows(page))
        seen += rows(page)
    assert len(seen) == len(set(seen)) == total > 300 and seen == sorted(seen, reverse=True)
    assert len(pages) == -(-total // 50)

    third = text(client.get(link(text(client.get(link(first, "Older events")[0])), "Older events")[0]))
    assert rows(third) == pages[2]
    newer = text(client.get(link(third, "Newer events")[0], headers={"HX-Request": "true"}))
    assert rows(newer) == pages[1]  # back one page, whole
    newest = text(client.get(link(third, "Newest events")[0]))
    assert rows(newest) == pages[0]


def test_pages_keep_the_filters_and_bad_cursors_fall_back(app, client, auth):
    record_many(app, 120)
    with app.app_context():
        audit.record("login", actor="someone@example.com", commit=True)
    auth.login("issuer")
    first = text(client.get("/vendor/audit", query_string={"action": "instance_grown"}))
    older, _ = link(first, "Older events")
    assert "action=instance_grown" in older
    second = text(client.get(older))
    assert len(rows(second)) == 50 and "someone@example.com" not in second
    assert 'href="/vendor/audit.csv?action=instance_grown"' in second  # the export keeps the filters, not the page
    assert rows(text(client.get("/vendor/audit", query_string={"before": "abc"}))) == rows(text(client.get("/vendor/audit")))
    # Fewer than a page newer than the cursor: the newest page, full.
    newest = rows(first)
    assert rows(text(client.get("/vendor/audit", query_string={"action": "instance_grown", "after": newest[5]}))) == newest
    gone = text(client.get("/vendor/audit", query_string={"before": 1}))
    assert "No events match on this page" in gone and "Newest events" in gone


# ------------------------------------------------------------------ times, one way


ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?Z?")


def visible(page: str) -> str:
    """The page without its markup's attributes (where `<time datetime>` keeps ISO 8601)."""
    return re.sub(r"<[^>]+>", " ", page)


def test_vendor_pages_write_times_for_people(app, client, auth, issuer_api):
    answer = client.post("/api/v1/product-keys", json={"authorizationCode": READY, "installId": INSTALL},
                         headers=issuer_api).get_json()
    key = answer["productKey"]
    assert ISO.fullmatch(answer["license"]["expiresAt"])  # the JSON API keeps ISO 8601
    auth.login("admin")
    pages = [client.get("/vendor/keys"), client.get(f"/vendor/keys/{answer['license']['id']}"),
             client.get("/vendor/audit"), client.post("/vendor/decode", data={"product_key": key})]
    for response in pages:
        shown = visible(text(response))
        assert not ISO.search(shown), ISO.search(shown).group(0)
        assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", shown) or re.search(r"\d{4}-\d\d-\d\d", shown)
    decoded = visible(text(pages[3]))
    assert re.search(r"Expires\s+\d{4}-\d\d-\d\d \d\d:\d\d UTC", decoded)
    csv_text = text(client.get("/vendor/audit.csv"))
    assert ISO.search(csv_text.splitlines()[1])  # the CSV keeps ISO 8601


def test_redeemed_key_says_until_when_for_people(client):
    page = text(client.post("/redeem", data={"code": READY, "install_id": INSTALL}))
    assert re.search(r"20 AKU until \d{4}-\d\d-\d\d \d\d:\d\d UTC for install ID", page)


# ------------------------------------------------------------------ /redeem, like the other pages


def test_redeem_is_laid_out_like_the_issue_page(client, auth):
    redeem = text(client.get("/redeem"))
    assert "narrow" not in redeem
    assert re.search(r'<div id="redeem-panel">\s*<section class="card">\s*<h1>Redeem authorization code</h1>\s*<p class="muted">', redeem)
    auth.login("issuer")
    issue = text(client.get("/vendor/issue"))
    assert re.search(r'<div id="issue-panel">\s*<section class="card">\s*<h1>Issue product key</h1>\s*<p class="muted">', issue)


# ------------------------------------------------------------------ error headlines


def headline_and_body(page: str, box_id: str) -> tuple[str, str]:
    box = re.search(r'<div class="error-box" role="alert" id="' + box_id + r'"[^>]*>(.*?)</div>', page, re.S).group(1)
    head = re.search(r"<strong>(.*?)</strong>", box, re.S).group(1).strip()
    body = re.sub(r"<[^>]+>", "", box.split("</strong>", 1)[1]).strip()
    return html_lib.unescape(head), html_lib.unescape(body)


def words(sentence: str) -> set[str]:
    return set(re.findall(r"[a-z]+", sentence.lower())) - {"the", "a", "an", "this", "is", "it", "of", "to", "on", "and", "or"}


def test_error_headlines_do_not_repeat_their_body(app, client, auth):
    pages = [(text(client.post("/redeem", data={"code": "DEMO-EXPIRED-5R1N", "install_id": INSTALL})), "redeem-error")]
    auth.login("issuer")
    pages.append((text(client.post("/vendor/issue/verify", data={"code": "DEMO-DISCARD-3H7Z", "install_id": INSTALL})), "refusal"))
    pages.append((text(client.post("/vendor/decode", data={"product_key": "hello"})), "decode-error"))
    pages.append((text(client.post("/vendor/issue", data={"code": "DEMO-EXPIRED-5R1N", "install_id": INSTALL})), "issue-error"))
    for page, box in pages:
        head, body = headline_and_body(page, box)
        assert head and body, box
        assert head.rstrip(".") not in body, box
        sentences = [s for s in re.split(r"(?<=\.)\s+", body) if s]
        for sentence in sentences:  # no sentence of the body says the headline again
            overlap = words(head) & words(sentence)
            assert len(overlap) < max(3, len(words(head)) * 0.6), (box, head, sentence)
    # A one-sentence refusal is its own headline, said once.
    auth.login("admin", email="admin@example.com")
    page = text(client.post("/vendor/offline", data={"install_id": INSTALL, "aku": "4", "days": "30",
                                                      "contract": "C" * 200, "type": "subscription", "reason": "r"}))
    head, body = headline_and_body(page, "offline-error")
    assert head.startswith("Give the contract number") and body == "(invalid_contract)"
    assert page.count("Give the contract number") == 1


# ------------------------------------------------------------------ the environment's banners


@pytest.fixture
def admin(auth):
    auth.login("admin")  # admins see both sides' pages, and the environment's banners


TRIAL = "Free trial:"


def test_the_trial_banner_shows_on_the_environments_pages_only(app, client, admin):
    for url in ("/settings", "/instances"):
        assert TRIAL in text(client.get(url)), url
    for url in ("/vendor/issue", "/vendor/keys", "/vendor/audit", "/vendor/decode", "/vendor/attention", "/redeem"):
        page = text(client.get(url))
        assert 'id="banners"' in page and TRIAL not in page, url


def test_the_banners_fragment_answers_for_the_page_that_asked(app, client, admin):
    def banners(current_url: str | None):
        headers = {"HX-Request": "true"}
        if current_url:
            headers["HX-Current-URL"] = current_url
        response = client.get("/_license/banners", headers=headers)
        assert response.status_code == 200 and "HX-Current-URL" in response.headers["Vary"]
        return text(response)

    assert TRIAL in banners("http://localhost/settings")
    assert TRIAL in banners("http://localhost/instances?x=1")
    assert TRIAL not in banners("http://localhost/vendor/keys?q=7K3Q")
    assert TRIAL not in banners("http://localhost/redeem")
    assert TRIAL not in banners("/vendor/audit")
    assert TRIAL in banners(None)  # no page named: every banner, as before
    assert TRIAL in banners("http://localhost/no-such-page")  # a host's own page


def test_a_provider_of_no_side_answers_on_every_page(app):
    state = app.extensions["license_platform"]
    asked = []
    state.add_banner_provider(lambda: asked.append(1) or [])
    for url, side in (("/vendor/keys", "vendor"), ("/redeem", "vendor"), ("/settings", "environment"), ("/login", None)):
        with app.test_request_context(url):
            assert state.page_side() == side, url
            state.banners()
    assert len(asked) == 4
