"""How the vendor's pages read (issue 8): the audit log's before/after tables, short install IDs
and pages of events; times written one way; /redeem laid out like the staff pages; error
headlines that do not repeat their body; the environment's banners and badge only on its own
pages; actions and refusals in words on the audit log."""
from __future__ import annotations

import base64
import html as html_lib
import json
import re
from datetime import datetime, timezone

import pytest
from flask import render_template_string

from webapp import audit
from webapp.database import db
from webapp.models.audit import AuditEvent
from webapp.vendor_side.models import IssuedKey

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


# ------------------------------------------------------------------ actions and refusals in words


def recorded_actions() -> set[str]:
    """Every action the app records: the text constants in the first argument of each
    `audit.record(...)` call across webapp/ (a conditional one gives both of its actions)."""
    import ast
    from pathlib import Path

    found: set[str] = set()
    for path in Path(audit.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and node.args and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr == "record" and isinstance(node.func.value, ast.Name) and node.func.value.id == "audit":
                found |= {c.value for c in ast.walk(node.args[0]) if isinstance(c, ast.Constant) and isinstance(c.value, str)}
    return found


def test_every_action_the_app_records_has_words():
    actions = recorded_actions()
    assert {"key_issued", "code_bound", "redeem_refused", "login", "login_failed", "instance_grown",
            "instance_shrunk", "license_activation_refused"} <= actions and len(actions) >= 20
    assert actions <= set(audit.ACTION_LABELS), actions - set(audit.ACTION_LABELS)
    for action in actions:
        words = audit.action_label(action)
        assert words[0].isupper() and "_" not in words and words != action, action
    assert audit.action_label("key_issued") == "Key issued" and audit.action_label("code_bound") == "Authorization code bound"
    assert audit.action_label("redeem_refused") == "Redemption refused" and audit.action_label("login") == "Logged in"
    assert audit.action_label("login_failed") == "Login failed"
    assert audit.action_label("cluster_paused") == "Cluster paused"  # an action this version does not know


def test_changes_say_refusals_and_codes_in_words():
    refused = audit.changes(None, {"code": "****5R1N", "error": "code_expired"}, "redeem_refused")
    assert [(r.name, r.label, r.kind) for r in refused.shown] == [("error", "Reason", "error"), ("code", "Code", "text")]
    assert refused.rows[0].words_for("code_expired") == "Authorization code expired"
    assert refused.rows[0].words_for("brand_new_error") is None  # shown as its code
    # The environment records its refusal's error code as `code`; a text that was no key has no seq.
    activation = audit.changes(None, {"code": "older_key", "seq": None, "source": "renewal_check"}, "license_activation_refused")
    assert [(r.label, r.kind) for r in activation.shown] == [("Reason", "error"), ("Source", "text")]
    assert activation.shown[0].words_for("older_key") == "Older than the running key"
    assert activation.shown[1].words_for("renewal_check") == "Check for renewal"
    assert "seq" not in [r.name for r in activation.folded]  # recorded as nothing: not shown at all
    issued = audit.changes(None, {"change": "renewal"}, "key_issued", words={"change": {"renewal": "Renewal"}})
    assert issued.rows[0].words_for("renewal") == "Renewal" and issued.rows[0].words_for("odd") is None


def test_the_audit_log_says_what_happened_in_words(app, client, auth):
    with app.app_context():
        audit.record("login_failed", actor="someone@example.com")
        audit.record("redeem_refused", actor="buyer", install_id=INSTALL, after={"code": "****5R1N", "error": "code_expired"})
        audit.record("redeem_refused", actor="buyer", install_id=INSTALL, after={"code": "****5R1N", "error": "brand_new_error"})
        audit.record("license_activation_refused", actor="operator@example.com", install_id=INSTALL,
                     after={"code": "older_key", "seq": None, "source": "renewal_check"}, detail="This key is older.")
        audit.record("key_issued", actor="issuer@example.com", subject="key:1", install_id=INSTALL,
                     after={"change": "renewal_and_spec_change", "aku": 40})
        audit.record("cluster_paused", actor="host")
        db.session.commit()
    auth.login("issuer")  # a login event too
    page = text(client.get("/vendor/audit"))
    what = {html_lib.unescape(w): c for w, c in re.findall(
        r'<span class="audit-action">([^<]+)</span>\s*<br><code class="muted small" title="Action code">([a-z_]+)</code>', page)}
    assert what == {"Login failed": "login_failed", "Redemption refused": "redeem_refused", "Activation refused":
                    "license_activation_refused", "Key issued": "key_issued", "Cluster paused": "cluster_paused",
                    "Logged in": "login"}
    reasons = re.findall(r'<th scope="row">Reason</th>\s*<td>(.*?)</td>', page, re.S)
    assert 'Authorization code expired <code class="muted small">code_expired</code>' in reasons
    assert 'Older than the running key <code class="muted small">older_key</code>' in reasons
    assert "<code>brand_new_error</code>" in reasons  # no words for it: its code, as recorded
    assert re.search(r'<th scope="row">Source</th>\s*<td><span title="renewal_check">Check for renewal</span></td>', page)
    assert re.search(r'<th scope="row">Change</th>\s*<td><span title="renewal_and_spec_change">Renewal and specification '
                     r'change</span></td>', page)
    assert '<th scope="row">Seq</th>' not in page  # a seq recorded as nothing says nothing
    # The filter names the actions in the same words, in their order, the codes in the URL.
    options = re.findall(r'<option value="([a-z_]+)" >([^<]+)</option>', page)
    assert [label for _, label in options] == sorted(what, key=str.lower)
    assert ("redeem_refused", "Redemption refused") in options and all("_" not in label for _, label in options)
    chosen = text(client.get("/vendor/audit", query_string={"action": "login_failed"}))
    assert '<option value="login_failed" selected>Login failed</option>' in chosen


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
    box = re.search(r'<div class="(?:error|warn)-box" role="alert" id="' + box_id + r'"[^>]*>(.*?)</div>', page, re.S).group(1)
    head = re.search(r"<strong>(.*?)</strong>", box, re.S).group(1).strip()
    body = re.sub(r"<[^>]+>", "", box.split("</strong>", 1)[1]).strip()
    return html_lib.unescape(head), html_lib.unescape(body)


def words(sentence: str) -> set[str]:
    return set(re.findall(r"[a-z]+", sentence.lower())) - {"the", "a", "an", "this", "is", "it", "of", "to", "on", "and", "or"}


def altered(app, *, sign: bool = False, kid: str | None = None, **terms) -> str:
    """A key issued by /redeem, its terms changed after signing (or signed again with our key
    when `sign`), or its `kid` replaced."""
    from webapp import product_key
    from webapp.vendor_side import signing_keys

    with app.app_context():
        stored = db.session.scalar(db.select(IssuedKey).order_by(IssuedKey.issued_at.desc()))
        if stored is None:
            app.test_client().post("/redeem", data={"code": READY, "install_id": INSTALL})
            stored = db.session.scalar(db.select(IssuedKey).order_by(IssuedKey.issued_at.desc()))
        envelope = json.loads(base64.b64decode(stored.product_key))
        envelope["license"].update(terms)
        if kid:
            envelope["signature"]["kid"] = kid
        if sign:
            private = signing_keys.private_key(signing_keys.active_key())
            signed = product_key.signed_bytes(envelope["installId"], envelope["signature"]["kid"], envelope["license"])
            envelope["signature"]["value"] = base64.b64encode(private.sign(signed)).decode()
    return base64.b64encode(json.dumps(envelope, separators=(",", ":")).encode()).decode()


def test_a_refused_code_is_said_once_without_advice_that_cannot_apply(app, client, auth):
    client.post("/redeem", data={"code": READY, "install_id": INSTALL})  # the environment has a live license
    auth.login("admin")
    page = text(client.post("/vendor/issue/verify", data={"code": "DEMO-DISCARD-3H7Z", "install_id": INSTALL}))
    assert 'id="refusal" data-error-code="code_discarded"' in page
    # Its specification is sold here (a discarded code simply has no terms), and the live license
    # is no blocker an admin could lift: the code cannot be issued at all.
    assert "no AKU configured" not in page and 'id="blocker-' not in page and "An admin can replace" not in page
    page = text(client.post("/vendor/issue/verify", data={"code": "DEMO-UNKNOWNSPEC-4L2G", "install_id": INSTALL}))
    assert "(no AKU configured)" in page and 'data-error-code="unknown_specification"' in page
    page = text(client.post("/vendor/issue/verify", data={"code": "DEMO-AKU40-READY-9M2X", "install_id": INSTALL}))
    assert 'id="blocker-install_has_license"' in page and "Replace and issue" in page  # a code that passed: the blocker


def test_a_refusal_with_a_headline_of_its_own_is_split_there(app):
    """`problem` takes the error's own headline when it has one: a headline with a full stop
    inside is not cut at its first ". "."""
    from webapp.product_key import ProductKeyError
    from webapp.vendor_side.rules import IssueError

    macro = '{% from "license/vendor_side/_macros.html" import problem %}{{ problem(error, id="x") }}'
    with app.test_request_context():
        own = render_template_string(macro, error=ProductKeyError(
            "older_key", "This key (no. 4) is older than the running license. Apply key 5.",
            headline="This key (no. 4) is older than the running license."))
        plain = render_template_string(macro, error=IssueError("code_expired", "This code expired. Renew it.", 422))
    def read(page):
        head, body = headline_and_body(page, "x")
        return head, " ".join(body.split())

    assert read(own) == ("This key (no. 4) is older than the running license.", "Apply key 5. (older_key)")
    assert read(plain) == ("This code expired.", "Renew it. (code_expired)")


def test_error_headlines_do_not_repeat_their_body(app, client, auth):
    pages = [(text(client.post("/redeem", data={"code": "DEMO-EXPIRED-5R1N", "install_id": INSTALL})), "redeem-error")]
    auth.login("issuer")
    pages.append((text(client.post("/vendor/issue/verify", data={"code": "DEMO-DISCARD-3H7Z", "install_id": INSTALL})), "refusal"))
    pages.append((text(client.post("/vendor/decode", data={"product_key": "hello"})), "decode-error"))
    pages.append((text(client.post("/vendor/issue", data={"code": "DEMO-EXPIRED-5R1N", "install_id": INSTALL})), "issue-error"))
    # The decoder: a key altered after signing, one signed by a key we do not hold, and one whose
    # signature holds but whose terms cannot be read.
    for key, box in ((altered(app, aku=400), "signature-result"), (altered(app, kid="someone-else-1"), "signature-result"),
                     (altered(app, seq=0, sign=True), "decode-warning")):
        pages.append((text(client.post("/vendor/decode", data={"product_key": key})), box))
    for page, box in pages:
        head, body = headline_and_body(page, box)
        assert head and body, box
        assert head.rstrip(".") not in body, box
        sentences = [s for s in re.split(r"(?<=\.)\s+", body) if s]
        for sentence in sentences:  # no sentence of the body says the headline again
            overlap = words(head) & words(sentence)
            assert len(overlap) < max(3, len(words(head)) * 0.6), (box, head, sentence)
    decoded = [page for page, box in pages if box in ("signature-result", "decode-warning")]
    assert all("Signature does not hold" not in page for page in decoded)
    assert headline_and_body(decoded[0], "signature-result")[0] == "This key was altered or not issued by the vendor."
    # A signing key we do not hold is said from the vendor's side, not the environment's.
    head, body = headline_and_body(decoded[1], "signature-result")
    assert head == "None of our signing keys signed this key." and '"someone-else-1"' in body
    assert "this environment" not in decoded[1] and "trusted vendor keys" not in decoded[1]
    assert 'class="warn-box" role="alert" id="decode-warning" data-error-code="malformed_key"' in decoded[2]
    # A one-sentence refusal is its own headline, said once.
    from webapp.vendor_side.rules import IssueError

    macro = '{% from "license/vendor_side/_macros.html" import problem %}{{ problem(error, id="one") }}'
    with app.test_request_context():
        page = render_template_string(macro, error=IssueError(
            "signing_unavailable", "The vendor has no active signing key: run `license keygen`.", 503))
    head, body = headline_and_body(page, "one")
    assert head.startswith("The vendor has no active signing key") and body == "(signing_unavailable)"
    assert page.count("no active signing key") == 1
    # What is wrong with a field is said at the field, once: the offline form's rules
    # (`offline.read_order`, the command line's too).
    auth.login("admin", email="admin@example.com")
    refused = client.post("/vendor/offline", data={"install_id": INSTALL, "aku": "4", "days": "30",
                                                    "contract": "C" * 200, "type": "subscription", "reason": "r"})
    assert refused.status_code == 422 and text(refused).count("The reference has at most 128 characters.") == 1


# ------------------------------------------------------------------ the environment's banners and badge


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


def badge(page: str) -> str:
    """What the header's license badge shows: the inside of `#license-badge` (empty: none)."""
    return re.search(r'<span id="license-badge"[^>]*>(.*?)</span>\n', page, re.S).group(1)


def test_the_trial_badge_shows_on_the_environments_pages_only(app, client, admin):
    for url in ("/settings", "/instances"):
        assert re.fullmatch(r'<span class="badge badge-info" title="Trial: 14 days left, 14 AKU">Trial</span>',
                            badge(text(client.get(url)))), url
    for url in ("/vendor/issue", "/vendor/keys", "/vendor/audit", "/vendor/decode", "/vendor/attention", "/redeem"):
        page = text(client.get(url))
        assert 'hx-get="/_license/badge"' in page and badge(page) == "", url  # the place stays, for htmx


def test_the_badge_fragment_answers_for_the_page_that_asked(app, client, admin):
    def fetched(current_url: str | None) -> str:
        headers = {"HX-Request": "true"}
        if current_url:
            headers["HX-Current-URL"] = current_url
        response = client.get("/_license/badge", headers=headers)
        assert response.status_code == 200 and "HX-Current-URL" in response.headers["Vary"]
        return text(response)

    assert ">Trial</span>" in fetched("http://localhost/settings")
    assert ">Trial</span>" in fetched("http://localhost/instances?x=1")
    for url in ("http://localhost/vendor/keys?q=7K3Q", "http://localhost/redeem", "/vendor/audit"):
        answer = fetched(url)
        assert 'id="license-badge"' in answer and "badge badge-" not in answer, url
    assert ">Trial</span>" in fetched(None)  # no page named: the badge, as before
    assert ">Trial</span>" in fetched("http://localhost/no-such-page")  # a host's own page


def test_a_badge_of_no_side_shows_on_every_page(app):
    state = app.extensions["license_platform"]
    state.set_badge_provider(lambda: "a host's badge")
    for url in ("/vendor/keys", "/redeem", "/settings", "/login"):
        with app.test_request_context(url):
            assert state.badge() == "a host's badge", url
    state.set_badge_provider(lambda: "the environment's", side="environment")
    with app.test_request_context("/vendor/keys"):
        assert state.badge() is None
    with app.test_request_context("/settings"):
        assert state.badge() == "the environment's"


def test_a_provider_of_no_side_answers_on_every_page(app):
    state = app.extensions["license_platform"]
    asked = []
    state.add_banner_provider(lambda: asked.append(1) or [])
    for url, side in (("/vendor/keys", "vendor"), ("/redeem", "vendor"), ("/settings", "environment"), ("/login", None)):
        with app.test_request_context(url):
            assert state.page_side() == side, url
            state.banners()
    assert len(asked) == 4
