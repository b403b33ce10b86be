"""Persistence: the install ID, the clock high-water mark, the hot path's queries, concurrency."""
from __future__ import annotations

import re
import threading
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event

from webapp.environment import license_rules as sm
from webapp.environment import store
from webapp.database import db
from webapp.environment.models import EnvironmentState


@contextmanager
def statements(app):
    """Collect the SQL statements run in the block."""
    seen: list[str] = []

    def listener(conn, cursor, statement, params, context, executemany):
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def at_once(target, n: int) -> None:
    """Run target(0) ... target(n - 1) in n threads started together; wait for all."""
    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _row(app) -> EnvironmentState:
    with app.app_context():
        row = db.session.get(EnvironmentState, 1)
        db.session.expunge_all()
        return row


def test_install_id_is_made_once_and_never_changes(app, clock):
    with app.app_context():
        first = store.current_license().install_id
        assert re.fullmatch(r"[0-9a-f]{32}", first)
        store._create_state_row()  # a second worker starting at the same moment
        assert store.current_license().install_id == first
    row = _row(app)
    assert row.first_started_at == clock.now


def test_two_workers_starting_at_once_agree_on_the_install_id(app, clock):
    found, errors = [], []

    def start(_):
        try:
            with app.app_context():
                found.append(store.current_license().install_id)
        except Exception as exc:  # pragma: no cover - the assertion below shows it
            errors.append(exc)

    at_once(start, 6)
    assert not errors and len(set(found)) == 1 and len(found) == 6


def test_reading_writes_the_high_water_mark_at_most_once_a_minute(app, clock, client, api_token):
    headers = api_token("operator")
    client.get("/api/v1/environment", headers=headers)
    start = _row(app).high_water_at
    clock.advance(seconds=30)
    with statements(app) as seen:
        client.get("/api/v1/environment", headers=headers)
    assert not [s for s in seen if s.lstrip().upper().startswith(("UPDATE", "INSERT", "DELETE"))]
    assert _row(app).high_water_at == start
    clock.advance(seconds=31)
    with statements(app) as seen:
        client.get("/api/v1/environment", headers=headers)
    writes = [s for s in seen if s.lstrip().upper().startswith("UPDATE")]
    assert len(writes) == 1 and "environment_state" in writes[0]
    assert _row(app).high_water_at == clock.now


def test_hot_path_reads_the_license_in_one_query(app, clock, client, api_token):
    headers = api_token("operator")
    client.get("/api/v1/environment", headers=headers)
    with statements(app) as seen:
        response = client.get("/api/v1/environment", headers=headers)
    assert response.status_code == 200
    ours = [s for s in seen if "environment_" in s]
    # the state row's license columns and the instances' AKU sum, in one round trip
    assert len(ours) == 1, ours
    assert ours[0].lstrip().upper().startswith("SELECT") and "FROM environment_instances" in ours[0]
    assert "product_key" not in ours[0]  # the stored key's text (up to 16 KiB) is not read
    assert len(seen) <= 2, seen  # with the bearer token and its user: two round trips in all


def test_settings_page_reads_the_license_once(app, clock, client, auth):
    auth.login("operator")
    client.get("/settings")
    with statements(app) as seen:
        assert client.get("/settings").status_code == 200
    # the page, the badge and the banners share one read of the state row and the usage
    assert len([s for s in seen if "FROM environment_state" in s]) == 1
    assert len([s for s in seen if "FROM environment_instances" in s]) == 1


def test_activation_moves_the_high_water_mark(app, clock, keys):
    with app.app_context():
        store.current_license()
    clock.advance(seconds=10)
    with app.app_context():
        store.apply_key(keys.make(seq=1), actor="test")
    assert _row(app).high_water_at == clock.now


def test_the_clock_moved_back_is_noticed_and_time_does_not_run_backwards(app, clock):
    with app.app_context():
        store.current_license()
    clock.advance(days=20)
    with app.app_context():
        assert store.current_license().status == "expired"
    clock.advance(days=-18)
    with app.app_context():
        lic = store.current_license()
        assert lic.status == "expired" and lic.clock_behind
        assert lic.now == _row(app).high_water_at


def test_concurrent_creates_never_exceed_the_licensed_aku(app, clock):
    with app.app_context():
        store.current_license()
    results: list[str] = []

    def create(i):
        with app.app_context():
            try:
                store.create_instance(f"i{i}", 5, actor="test")
                results.append("ok")
            except sm.InsufficientAku:
                results.append("refused")

    at_once(create, 6)
    assert sorted(results) == ["ok", "ok", "refused", "refused", "refused", "refused"]  # 14 AKU: two of 5
    with app.app_context():
        assert store.current_license().aku_in_use == 10


def test_refused_key_records_what_it_could_read(app, clock, keys):
    key = keys.make(seq=7, install_id="0123456789abcdef0123456789abcdef")
    with app.app_context():
        from webapp import product_key

        with pytest.raises(product_key.ProductKeyError):
            store.apply_key(key, actor="someone")
        [row] = store.history()
        assert (row.result, row.error_code, row.key_seq, row.actor) == ("refused", "wrong_install_id", 7, "someone")
        assert row.key_expires_at == clock.now + timedelta(days=30)


def test_the_high_water_write_is_conditional_and_never_moves_back(app, clock):
    with app.app_context():
        store.current_license()
    start = _row(app).high_water_at
    with app.app_context():
        store.write_high_water(start + timedelta(seconds=30))  # another worker wrote less than a minute ago
        assert _row(app).high_water_at == start
        store.write_high_water(start + timedelta(seconds=61))
        assert _row(app).high_water_at == start + timedelta(seconds=61)
        store.write_high_water(start + timedelta(seconds=10))  # a clock behind never moves it back
        assert _row(app).high_water_at == start + timedelta(seconds=61)
        # the first sight of the expiry is written at once, even within the minute
        store.write_high_water(start + timedelta(seconds=70), expires_at=start + timedelta(seconds=65))
        assert _row(app).high_water_at == start + timedelta(seconds=70)
        store.write_high_water(start + timedelta(seconds=80), expires_at=start + timedelta(seconds=65))
        assert _row(app).high_water_at == start + timedelta(seconds=70)
