"""The Keys search reads indexes, never the whole ledger (docs/performance.md, "Keys search at
scale"): the migrated schema has the indexes, and every query shape `search_keys` sends is planned
on them. Plans, not times: no test asserts a time. The search box's readings still find the same
keys as before it was one indexed read per reading."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, inspect

from webapp.database import db
from tests import databases

SEARCH_INDEXES = {
    "ix_license_issued_keys_reference": ["reference"],
    "ix_license_issued_keys_issued_at_seq_id": ["issued_at", "seq", "id"],
}
INSTALL = "0123456789abcdef0123456789abcdef"
CODE = "AMQ-0123456789ABCDEF"


@pytest.fixture
def sqlite_app(tmp_path):
    with databases.migrated_app(f"sqlite:///{tmp_path / 'm.db'}", tmp_path, signing_key=False,
                                LICENSE_ROLE="vendor") as app:
        yield app


def _fill(app) -> dict:
    """Two keys of one install from one code, and an offline contract's key."""
    from webapp.vendor_side.bindings import code_hash, encrypt_code
    from webapp.vendor_side.models import CodeBinding, IssuedKey

    now = datetime.now(timezone.utc).replace(microsecond=0)
    with app.app_context():
        binding = CodeBinding(code_hash=code_hash(CODE), code_encrypted=encrypt_code(CODE), code_last4=CODE[-4:],
                              install_id=INSTALL, state="bound", ali_uid=1234567890123456)
        db.session.add(binding)
        db.session.flush()
        keys = []
        for days, seq, install, binding_id, reference in ((3, 1, INSTALL, binding.id, "****CDEF"),
                                                          (2, 2, INSTALL, binding.id, "****CDEF"),
                                                          (1, 1, "a" * 32, None, "CONTRACT-77")):
            key = IssuedKey(id=str(uuid.uuid4()), install_id=install, seq=seq, kid="k", type="subscription",
                            channel="alibaba-marketplace" if binding_id else "offline-contract", reference=reference,
                            product="P", aku=20, issued_at=now - timedelta(days=days), not_before=now,
                            expires_at=now + timedelta(days=30), product_key="x", status="active",
                            issued_by="t", binding_id=binding_id)
            db.session.add(key)
            keys.append(key.id)
        db.session.commit()
    return {"first": keys[0], "second": keys[1], "contract": keys[2]}


SHAPES = {
    "api install ID": ("api", {"installId": INSTALL}),
    "api code": ("api", {"code": CODE}),
    "api last 4": ("api", {"last4": "CDEF"}),
    "page install ID": ("page", {"q": INSTALL}),
    "page code": ("page", {"q": CODE}),
    "page last 4": ("page", {"q": "****CDEF"}),
    "page AliUid": ("page", {"q": "1234567890123456"}),
    "page contract": ("page", {"q": "CONTRACT-77"}),
    "list": ("page", {}),
    "list at a cursor": ("page", {"cursor": True}),
}


def _search(form: str, args: dict, keys: dict | None = None):
    from webapp.vendor_side import search
    from webapp.vendor_side.models import IssuedKey

    cursor = None
    if args.get("cursor"):
        cursor = search.encode_cursor(db.session.get(IssuedKey, keys["second"]))
        args = {}
    query = search.KeyQuery.from_api(args) if form == "api" else search.KeyQuery.from_page(args)
    return search.search_keys(query, cursor=cursor)


def _statements(app, keys) -> dict[str, tuple[str, object]]:
    """The SELECT `search_keys` sends for each shape."""
    found = {}
    with app.app_context():
        captured = []

        def capture(conn, cursor, statement, parameters, context, executemany):
            captured.append((statement, parameters))

        event.listen(db.engine, "before_cursor_execute", capture)
        try:
            for name, (form, args) in SHAPES.items():
                _search(form, args, keys)
                found[name] = captured[-1]
                db.session.remove()
        finally:
            event.remove(db.engine, "before_cursor_execute", capture)
    return found


def test_the_migrated_schema_has_the_search_indexes(sqlite_app):
    app = sqlite_app
    with app.app_context():
        indexes = {i["name"]: i["column_names"] for i in inspect(db.engine).get_indexes("license_issued_keys")}
    assert {name: indexes.get(name) for name in SEARCH_INDEXES} == SEARCH_INDEXES


def test_every_search_shape_reads_indexes_on_sqlite(sqlite_app):
    """EXPLAIN QUERY PLAN of each shape, on a migrated database without statistics (as production
    has them): the ledger is searched through an index, never scanned whole (not even along an
    index), and the list's order is read from its index rather than sorted."""
    app = sqlite_app
    keys = _fill(app)
    with app.app_context():
        for name, (statement, parameters) in _statements(app, keys).items():
            connection = db.session.connection()
            plan = [row[-1] for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)]
            scans = [step for step in plan if step.startswith("SCAN")]
            if name == "list":  # the newest first, read from the order's index until the page is full
                assert scans == ["SCAN license_issued_keys USING INDEX ix_license_issued_keys_issued_at_seq_id"], plan
            else:  # an index SEARCH, for a cursor a range of the order's index; no SCAN, not even of an index
                assert scans == [], (name, plan)
            if name.startswith("list"):
                assert not any("TEMP B-TREE" in step for step in plan), (name, plan)
                assert any("USING INDEX ix_license_issued_keys_issued_at_seq_id" in step for step in plan), plan


@pytest.mark.parametrize("name", SHAPES)
def test_the_search_box_and_the_api_find_the_same_keys_as_before(sqlite_app, name):
    app = sqlite_app
    keys = _fill(app)
    expected = {
        "api install ID": ["second", "first"], "api code": ["second", "first"], "api last 4": ["second", "first"],
        "page install ID": ["second", "first"], "page code": ["second", "first"], "page last 4": ["second", "first"],
        "page AliUid": ["second", "first"], "page contract": ["contract"],
        "list": ["contract", "second", "first"], "list at a cursor": ["first"],
    }[name]
    form, args = SHAPES[name]
    with app.app_context():
        found = [row.key.id for row in _search(form, dict(args), keys).rows]
        assert found == [keys[k] for k in expected]
        # A key's own id, typed in the box, finds that key alone.
        assert [r.key.id for r in _search("page", {"q": "key:" + keys["first"]}).rows] == [keys["first"]]
        assert [r.key.id for r in _search("page", {"q": keys["contract"]}).rows] == [keys["contract"]]
        assert _search("page", {"q": "nothing-like-it"}).rows == []


@pytest.fixture
def pg_app(tmp_path):
    with databases.throwaway_database() as url, \
            databases.migrated_app(url, tmp_path, signing_key=False, LICENSE_ROLE="vendor") as app:
        yield app


def test_the_migrated_schema_has_the_search_indexes_on_postgresql(pg_app):
    with pg_app.app_context():
        indexes = {i["name"]: i["column_names"] for i in inspect(db.engine).get_indexes("license_issued_keys")}
    assert {name: indexes.get(name) for name in SEARCH_INDEXES} == SEARCH_INDEXES


def _nodes(node: dict):
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


def test_every_search_shape_can_read_indexes_on_postgresql(pg_app):
    """With sequential scans priced out (the table is tiny here), every read of the ledger is an
    index lookup (an `Index Cond`): no condition left that only a whole read, of the table or along
    an index, can answer (an OR across the join's tables). The list alone walks its order's index."""
    keys = _fill(pg_app)
    with pg_app.app_context():
        for name, (statement, parameters) in _statements(pg_app, keys).items():
            connection = db.session.connection()
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters).scalar()
            whole = [(node["Node Type"], node.get("Index Name")) for node in _nodes(plan[0]["Plan"])
                     if node.get("Relation Name") == "license_issued_keys" and "Index Cond" not in node
                     and node["Node Type"] != "Bitmap Heap Scan"]
            if name == "list":
                assert whole == [("Index Scan", "ix_license_issued_keys_issued_at_seq_id")], plan
            else:
                assert whole == [], (name, plan)
            db.session.rollback()
