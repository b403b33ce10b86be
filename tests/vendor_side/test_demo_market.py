"""The demo's simulated marketplace, shared by every process of one instance folder through a
JSON file (`webapp.vendor_side.demo_market`): what the Demo codes page changes, `flask license
reconcile` sees; every worker sees the same codes; the file is written atomically."""
from __future__ import annotations

import json
import os
import re
import stat

import pytest

from marketplace_adapter.simulator import Simulator, demo_codes
from webapp import create_app
from webapp.config import TestConfig
from webapp.database import db
from webapp.vendor_side.models import CodeBinding
from webapp.vendor_side.demo_market import STATE_FILE, SharedSimulator
from webapp.vendor_side.marketplace import MarketplaceConfigError

from .conftest import INSTALL, OTHER_INSTALL

READY = "DEMO-AKU20-READY-7K3Q"
READY40 = "DEMO-AKU40-READY-9M2X"


@pytest.fixture
def state_file(tmp_path):
    return tmp_path / "instance" / STATE_FILE


@pytest.fixture
def app_config(state_file):
    return {"MARKETPLACE_SIMULATOR_STATE": str(state_file)}


@pytest.fixture
def other_process(app):
    """A second app on the same database and instance folder: another worker, or the CLI."""
    def make():
        return create_app(dict(app.config))

    return make


def market(app):
    return app.extensions["license_vendor"]


def saved(path) -> dict:
    return {c["code"]: c for c in json.loads(path.read_text())["codes"]}


def test_the_codes_file_is_seeded_once_with_the_demo_codes(app, state_file):
    assert isinstance(market(app).simulator, SharedSimulator)
    codes = saved(state_file)
    assert set(codes) == {c["code"] for c in demo_codes()}
    assert stat.S_IMODE(os.stat(state_file).st_mode) == 0o600
    assert [p.name for p in state_file.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_another_process_reads_the_same_codes_not_fresh_ones(app, other_process, state_file):
    """demo_codes() is relative to now: a second process seeding its own would move every expiry."""
    first = market(app).simulator.get_code(READY)["expires_at"]
    second = other_process()
    assert market(second).simulator.get_code(READY)["expires_at"] == first


def test_cli_reconcile_sees_a_renewal_made_on_the_demo_codes_page(app, client, auth, other_process):
    auth.login("admin")
    client.post("/api/v1/redeem", json={"authorizationCode": READY, "installId": INSTALL})
    client.post("/api/v1/redeem", json={"authorizationCode": READY40, "installId": OTHER_INSTALL})
    assert client.post("/vendor/demo-codes/action", data={"code": READY, "action": "renew"}).status_code == 303
    assert client.post("/vendor/demo-codes/action", data={"code": READY40, "action": "spec:aku-20"}).status_code == 303

    cli = other_process()
    result = cli.test_cli_runner().invoke(args=["license", "reconcile"])
    assert result.exit_code == 0, result.stderr
    found = {item["installId"]: item["status"] for item in map(json.loads, result.stdout.splitlines())}
    assert found == {INSTALL: "renewed", OTHER_INSTALL: "spec_changed"}

    result = cli.test_cli_runner().invoke(args=["license", "reconcile", "--issue"])
    assert result.exit_code == 0, result.stderr
    html = client.get("/vendor/attention").get_data(as_text=True)
    assert "Renewed, no new key" not in html and "Specification changed, no new key" not in html


def test_a_refund_in_one_worker_is_seen_by_another(app, other_process):
    worker = other_process()
    market(app).simulator.discard(READY)
    assert market(worker).client.describe_license(READY).status == "DISCARD"
    assert market(worker).simulator.get_code(READY)["status"] == "DISCARD"


def test_an_activation_is_written_for_the_other_processes(app, other_process, state_file):
    from webapp.vendor_side.issuing import issue_from_code

    with app.app_context():
        issue_from_code(READY, INSTALL, actor="t")  # INACTIVATED: ActivateLicense is called
    assert saved(state_file)[READY]["status"] == "ACTIVATED"
    worker = other_process()
    assert market(worker).client.describe_license(READY).status == "ACTIVATED"
    with worker.app_context():  # the same code and install ID again: the stored key, no new activation
        assert issue_from_code(READY, INSTALL, actor="t").created is False
        assert db.session.scalar(db.select(db.func.count()).select_from(CodeBinding)) == 1


def test_reading_the_marketplace_does_not_rewrite_the_file(app, state_file):
    before = os.stat(state_file).st_mtime_ns
    market(app).client.describe_license(READY)
    market(app).simulator.list_codes()
    assert os.stat(state_file).st_mtime_ns == before


def test_the_file_is_read_again_only_when_it_changed(state_file):
    a = SharedSimulator(Simulator(), state_file).start(demo_codes())
    b = SharedSimulator(Simulator(), state_file).start([])
    loads = []
    real = b._reload
    b._reload = lambda **kw: (loads.append(1), real(**kw))
    b.list_codes()
    assert loads == []  # nothing changed since b read it
    a.renew(READY, days=30)
    assert b.get_code(READY)["expires_at"] == a.get_code(READY)["expires_at"]
    assert loads == [1]
    b.list_codes()
    assert loads == [1]


def test_nothing_is_lost_when_two_processes_change_codes_in_turn(state_file):
    a = SharedSimulator(Simulator(), state_file).start(demo_codes())
    b = SharedSimulator(Simulator(), state_file).start([])
    a.renew(READY, days=30)
    b.discard(READY40)  # b reads a's renewal before writing its own change
    codes = saved(state_file)
    assert codes[READY]["expires_at"] == a.get_code(READY)["expires_at"]
    assert codes[READY40]["status"] == "DISCARD" and a.get_code(READY40)["status"] == "DISCARD"


def test_a_seed_codes_file_is_used_only_for_the_first_start(app_config, app, state_file, tmp_path):
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps([{"code": "SEED-0001", "specification": "aku-20", "expires_at": "+30d"}]))
    fresh = tmp_path / "fresh" / STATE_FILE
    seeded = create_app(dict(app.config, MARKETPLACE_SIMULATOR_STATE=str(fresh), MARKETPLACE_SIMULATOR_CODES=str(seed)))
    assert list(saved(fresh)) == ["SEED-0001"] and market(seeded).simulator.get_code("SEED-0001")
    again = create_app(dict(app.config, MARKETPLACE_SIMULATOR_CODES=str(seed)))  # the file exists: it wins
    assert READY in saved(state_file) and "SEED-0001" not in {c["code"] for c in market(again).simulator.list_codes()}


def test_an_unreadable_codes_file_is_named_at_start_and_survived_while_running(app, state_file, caplog, monkeypatch):
    import logging

    # Alembic's fileConfig (a migration test run earlier) disables the loggers that exist by then.
    monkeypatch.setattr(logging.getLogger("webapp.vendor_side.demo_market"), "disabled", False)
    sim = market(app).simulator
    state_file.write_text("{not json")
    assert sim.get_code(READY)["code"] == READY  # keeps what it has, says why
    assert STATE_FILE in caplog.text and "delete it" in caplog.text
    with pytest.raises(MarketplaceConfigError, match=STATE_FILE):
        create_app(dict(app.config))


def test_only_the_demo_shares_the_simulator(tmp_path):
    """In demo mode (no SECRET_KEY) the file is in the instance folder; otherwise there is none."""
    base = TestConfig().__dict__.copy()
    base.update(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'd.db'}", LICENSE_ROLE="vendor",
                LICENSE_SKIP_SIGNING_KEY_CHECK=True)
    plain = create_app(dict(base, LICENSE_INSTANCE_PATH=str(tmp_path / "plain")))
    assert isinstance(market(plain).simulator, Simulator)
    assert not (tmp_path / "plain" / STATE_FILE).exists()

    demo = dict(base, LICENSE_INSTANCE_PATH=str(tmp_path / "demo"))
    for name in ("SECRET_KEY", "LICENSE_DATA_KEY", "LICENSE_SIGNING_KEY_PASSPHRASE"):
        demo.pop(name)
    app = create_app(demo)
    assert app.extensions["license_platform"].demo
    assert isinstance(market(app).simulator, SharedSimulator)
    assert (tmp_path / "demo" / STATE_FILE).exists()


# ------------------------------------------------------------------ the Demo codes page

ACTIVE = "DEMO-AKU20-ACTIVE-4T8P"
EXPIRED = "DEMO-EXPIRED-5R1N"
DISCARDED = "DEMO-DISCARD-3H7Z"


def act(client, code: str, action: str, htmx: bool = True):
    return client.post("/vendor/demo-codes/action", data={"code": code, "action": action},
                       headers={"HX-Request": "true"} if htmx else {})


def code_row(html: str, code: str) -> str:
    start = html.index(f"<code>{code}</code>")
    return html[html.rindex("<tr>", 0, start):html.index("</tr>", start)]


def expiry_day(app, code: str) -> str:
    return market(app).simulator.get_code(code)["expires_at"][:10]


def test_each_action_says_what_it_did_and_the_note_follows_the_new_state(app, client, auth, state_file):
    auth.login("issuer")
    seeded = {c["code"]: c["note"] for c in demo_codes()}

    response = act(client, READY, "renew")
    html = response.get_data(as_text=True)
    until = expiry_day(app, READY)
    assert response.status_code == 200 and f"Renewed {READY} until {until}." in html
    row = code_row(html, READY)
    assert 'role="status"' in row and seeded[READY] not in row
    note = f"Renewed by 30 days. Not activated yet, 20 AKU until {until}: redeem it"
    assert note in row and saved(state_file)[READY]["note"] == note  # every process sees it
    assert f'<td class="when">{until}</td>' in row  # the day, through the filters

    html = act(client, READY40, "spec:aku-20").get_data(as_text=True)
    assert f"Specification of {READY40} changed to aku-20 (20 AKU)." in html
    row = code_row(html, READY40)
    assert f"Specification changed to aku-20. Not activated yet, 20 AKU until {expiry_day(app, READY40)}" in row
    assert f"Renewed {READY} until" not in html  # one message: the last action's

    html = act(client, READY, "discard").get_data(as_text=True)
    assert f"Refunded {READY}: the marketplace now shows it discarded." in html
    row = code_row(html, READY)
    assert "redeem it" not in row and "Discarded: the order was refunded" in row
    assert "Renew +30 days" not in row  # nothing left to play on a discarded code

    html = act(client, EXPIRED, "renew").get_data(as_text=True)  # an expired code comes back
    assert f"Renewed by 30 days. Activated, 20 AKU until {expiry_day(app, EXPIRED)}" in code_row(html, EXPIRED)

    events = client.get("/vendor/audit", query_string={"action": "demo_marketplace_changed"}).get_data(as_text=True)
    assert "****7K3Q" in events and READY not in events


def test_without_javascript_the_message_is_flashed(app, client, auth):
    auth.login("issuer")
    response = act(client, ACTIVE, "spec:aku-40", htmx=False)
    assert response.status_code == 303 and response.headers["Location"].endswith("/vendor/demo-codes")
    page = client.get("/vendor/demo-codes").get_data(as_text=True)
    assert f"Specification of {ACTIVE} changed to aku-40 (40 AKU)." in page
    assert f"Specification changed to aku-40. Activated, 40 AKU until {expiry_day(app, ACTIVE)}" in code_row(page, ACTIVE)


def test_a_refused_action_has_a_headline_that_does_not_repeat_its_message(app, client, auth):
    auth.login("issuer")
    response = act(client, DISCARDED, "renew")  # e.g. refunded in another tab meanwhile
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    row = code_row(html, DISCARDED)
    assert ("<strong>Nothing was changed at the marketplace.</strong> "
            "The simulator refused: a DISCARD code cannot be renewed.") in row

    html = act(client, "NO-SUCH-CODE-0000", "renew").get_data(as_text=True)
    assert ("<strong>Nothing was changed at the marketplace.</strong> "
            "The simulator has no code ****0000.") in html and "NO-SUCH-CODE" not in html
    assert act(client, READY, "explode").status_code == 400
    assert market(app).simulator.get_code(READY)["note"] == {c["code"]: c["note"] for c in demo_codes()}[READY]


def test_the_demo_codes_page_writes_days_for_people(app, client, auth):
    auth.login("issuer")
    html = client.get("/vendor/demo-codes").get_data(as_text=True)
    assert f'<td class="when">{expiry_day(app, READY)}</td>' in code_row(html, READY)
    table = html[html.index('id="demo-codes"'):]
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:", table)  # no ISO 8601 for people
