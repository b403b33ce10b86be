"""Keys search at scale: fill a database with N issued keys, time the search by install ID, whole
code and last 4 characters.

    .venv/bin/python bench/search.py --keys 1000000 [--database URL] [--queries 200]
                                     [--explain] [--profile KIND] [--keep]

The schema comes from the migrations (`flask db upgrade`), as in production. The keys are written
in bulk (executemany batches on SQLite, COPY on PostgreSQL), never through the ORM row by row:
installs with one to six keys each (renewals: the earlier ones superseded, the same seq order
`ledger.issue_key` gives), most from an authorization code (a `license_code_bindings` row with
the code's keyed hash, its encryption and last 4, the marketplace's last answer), some installs
that changed code (the first binding `replaced`), some offline contracts with no binding. The
product key texts are really signed keys of the same shape, from a pool (signing a million keys
would take longer than the rest of the fill together; nothing searches their text).

Then it times `search.search_keys` -- the function the Keys page and `GET /api/v1/product-keys`
call -- inside an app context, one session per query as one request has: `--queries` queries of
each kind, half for values that exist and half for values that do not, in both of the forms it
is called with: the API's own parameter (`installId`, `code`, `last4`) and the Keys page's one
search box (`q`). It prints a table, and as its last line one JSON object: per kind, p50 and p95
in milliseconds over both forms together (every query of the kind, whichever form it came in).

`--explain` prints each query shape's plan (EXPLAIN QUERY PLAN on SQLite, EXPLAIN ANALYZE on
PostgreSQL); `--profile KIND` runs that kind's queries under cProfile and prints the top entries.
The default database is a temporary SQLite file, removed afterwards (`--keep` keeps it and
prints its URL). A PostgreSQL URL (`postgresql+psycopg://...`) names a database that is emptied
first: every table of the app is dropped.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import random
import shutil
import statistics
import string
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

# The repository, not bench/ (whose http.py would stand in for the standard library's http).
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from sqlalchemy import event, text  # noqa: E402

from webapp import create_app  # noqa: E402
from webapp.config import TestConfig  # noqa: E402
from webapp.database import db  # noqa: E402

BATCH = 20_000
NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)
CODE_ALPHABET = string.ascii_uppercase + string.digits
KINDS = ("install_id", "code", "last4")  # the JSON line's
LIST = "list"  # also timed: the Keys list with no search, its first page and a page at a cursor


def build_app(url: str, folder: str):
    config = TestConfig().__dict__.copy()
    config.update(TESTING=False, SQLALCHEMY_DATABASE_URI=url, LICENSE_INSTANCE_PATH=folder,
                  LICENSE_ROLE="vendor", LICENSE_SKIP_SIGNING_KEY_CHECK=True)
    return create_app(config)


def create_schema(app) -> None:
    from flask_migrate import upgrade

    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:  # an emptied database: the migrations run from nothing
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        upgrade()


# ------------------------------------------------------------------------------------ the fill


class Sample:
    """A reservoir of at most `size` values, uniformly from everything offered."""

    def __init__(self, size: int, rng: random.Random):
        self.size, self.rng, self.seen, self.values = size, rng, 0, []

    def offer(self, value) -> None:
        self.seen += 1
        if len(self.values) < self.size:
            self.values.append(value)
        else:
            slot = self.rng.randrange(self.seen)
            if slot < self.size:
                self.values[slot] = value


def _key_pool(size: int, rng: random.Random) -> list[str]:
    """Really signed product keys, to give the rows their real width."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from webapp import product_key

    signer = Ed25519PrivateKey.generate()
    pool = []
    for _ in range(size):
        at = NOW - timedelta(days=rng.randrange(1000))
        terms = product_key.License(
            id=str(uuid.uuid4()), seq=rng.randint(1, 4), type="subscription", channel="alibaba-marketplace",
            reference="****" + "".join(rng.choices(CODE_ALPHABET, k=4)), product="AutoMQ BYOC Pro",
            aku=rng.choice((10, 20, 40, 80)), issued_at=at, not_before=at, expires_at=at + timedelta(days=365))
        pool.append(product_key.sign("%032x" % rng.getrandbits(128), terms, "kid-2026-01", signer))
    return pool


def generate(n_keys: int, rng: random.Random, data_key, samples: dict):
    """Yields batches of (bindings, keys, sequences) rows as dicts, about BATCH keys each."""
    pool = _key_pool(256, rng)
    binding_id = 0
    bindings, keys, sequences = [], [], []
    made = 0
    while made < n_keys:
        install_id = "%032x" % rng.getrandbits(128)
        samples["install_id"].offer(install_id)
        roll = rng.random()
        count = 1 if roll < 0.55 else 2 if roll < 0.85 else 3 if roll < 0.95 else rng.randint(4, 6)
        count = min(count, n_keys - made)
        offline = rng.random() < 0.10
        # The first key between 3 years and a month ago; each renewal 30 to 365 days later.
        at = NOW - timedelta(seconds=rng.randrange(30 * 86400, 3 * 365 * 86400))
        codes: list[tuple[int, str]] = []
        switch_at = rng.randint(1, count - 1) if count > 1 and rng.random() < 0.15 else None
        aku = rng.choice((10, 20, 40, 80))
        ali_uid = rng.randrange(10**15, 10**16)
        for seq in range(1, count + 1):
            if not offline and (not codes or seq - 1 == switch_at):
                binding_id += 1
                code = "AMQ-" + "".join(rng.choices(CODE_ALPHABET, k=16))
                samples["code"].offer(code)
                samples["last4"].offer(code[-4:])
                codes.append((binding_id, code))
            days = rng.choice((30, 90, 365))
            expires = at + timedelta(days=days)
            keys.append({
                "id": str(uuid.uuid4()), "install_id": install_id, "seq": seq, "kid": "kid-2026-01",
                "type": "subscription", "channel": "offline-contract" if offline else "alibaba-marketplace",
                "reference": f"CONTRACT-{rng.randrange(10**6):06d}" if offline else "****" + codes[-1][1][-4:],
                "product": "AutoMQ BYOC Pro", "aku": aku, "issued_at": at, "not_before": at, "expires_at": expires,
                "product_key": pool[made % len(pool)], "status": "active" if seq == count else "superseded",
                "superseded_by": None, "issued_by": "bench@example.com", "reason": None,
                "binding_id": None if offline else codes[-1][0],
            })
            samples[LIST].offer(keys[-1])
            made += 1
            if seq < count:
                at = at + timedelta(seconds=rng.randrange(30 * 86400, 365 * 86400))
                at = min(at, NOW - timedelta(seconds=rng.randrange(1, 86400)))
        for i in range(len(keys) - count, len(keys) - 1):  # superseded_by: the next key
            keys[i]["superseded_by"] = keys[i + 1]["id"]
        last = keys[-1]
        for index, (bid, code) in enumerate(codes):
            current = index == len(codes) - 1
            renewed = current and rng.random() < 0.03  # renewed at the marketplace, no new key yet
            bindings.append({
                "id": bid, "code_hash": data_key.lookup_hash(code), "code_encrypted": data_key.encrypt(code),
                "code_last4": code[-4:], "install_id": install_id, "state": "bound" if current else "replaced",
                "claim_token": None, "claimed_at": None, "ali_uid": ali_uid, "product_code": "cmgj0001",
                "instance_id": str(rng.randrange(10**9, 10**10)), "specification": f"pro-{aku}", "order_ids": None,
                "market_status": "ACTIVATED" if last["expires_at"] > NOW else "EXPIRED",
                "market_expires_at": last["expires_at"] + (timedelta(days=365) if renewed else timedelta()),
                "market_aku": aku, "checked_at": last["issued_at"], "check_error": None,
                "activated_at": last["issued_at"], "created_at": last["issued_at"], "bound_at": last["issued_at"],
                "replaced_at": None if current else last["issued_at"],
            })
        sequences.append({"install_id": install_id, "last_seq": count})
        if len(keys) >= BATCH:
            yield bindings, keys, sequences
            bindings, keys, sequences = [], [], []
    if keys:
        yield bindings, keys, sequences


def _copy(conn, table, rows: list[dict]) -> None:
    """PostgreSQL: COPY ... FROM STDIN through psycopg (rows as the ORM would bind them)."""
    if not rows:
        return
    columns = list(rows[0])
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])


def fill(app, n_keys: int, seed: int, samples_size: int) -> tuple[dict, float]:
    from webapp.datakey import data_key
    from webapp.vendor_side.models import CodeBinding, InstallSequence, IssuedKey

    rng = random.Random(seed)
    samples = {kind: Sample(samples_size, rng) for kind in (*KINDS, LIST)}
    tables = (CodeBinding.__table__, IssuedKey.__table__, InstallSequence.__table__)
    started = time.perf_counter()
    with app.app_context():
        postgres = db.engine.dialect.name == "postgresql"
        key = data_key(app.config["LICENSE_DATA_KEY"])
        with db.engine.connect() as conn:
            if not postgres:
                conn.exec_driver_sql("PRAGMA cache_size = -262144")  # 256 MiB for this connection
                conn.commit()
            done = 0
            for batch in generate(n_keys, rng, key, samples):
                with conn.begin():
                    for table, rows in zip(tables, batch):
                        if postgres:
                            _copy(conn, table, rows)
                        elif rows:
                            conn.execute(table.insert(), rows)
                done += len(batch[1])
                if done % 100_000 < BATCH:
                    print(f"  {done:>9,} keys  {time.perf_counter() - started:6.1f} s", file=sys.stderr)
            if postgres:
                with conn.begin():
                    conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('license_code_bindings', 'id'), "
                                         "(SELECT max(id) FROM license_code_bindings))")
                conn.commit()
                # What autovacuum does after a bulk load, done now so the first queries have statistics.
                with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as auto:
                    auto.exec_driver_sql("VACUUM ANALYZE")
    return {kind: s.values for kind, s in samples.items()}, time.perf_counter() - started


# ------------------------------------------------------------------------------------ timing


def _missing(kind: str, rng: random.Random) -> str:
    if kind == "install_id":
        return "%032x" % rng.getrandbits(128)
    if kind == "code":
        return "AMQ-" + "".join(rng.choices(CODE_ALPHABET, k=16)) + "X"  # one longer than any issued
    return "".join(rng.choices(string.ascii_lowercase, k=4))  # the codes are upper case and digits


_API_PARAMETER = {"install_id": "installId", "code": "code", "last4": "last4"}


def queries(samples: dict, per_kind: int, rng: random.Random) -> dict[str, list[tuple[str, str, dict]]]:
    """Per kind: (form, value, args) -- half existing values, half missing; both forms alike."""
    plan = {}
    for kind in KINDS:
        values = [rng.choice(samples[kind]) if i % 2 == 0 else _missing(kind, rng) for i in range(per_kind)]
        plan[kind] = [("api" if i % 4 < 2 else "page", value,
                       {_API_PARAMETER[kind]: value} if i % 4 < 2 else {"q": value})
                      for i, value in enumerate(values)]
    from types import SimpleNamespace

    from webapp.vendor_side.search import encode_cursor

    plan[LIST] = [("page", "", {} if i % 2 == 0 else {"cursor": encode_cursor(SimpleNamespace(**rng.choice(samples[LIST])))})
                  for i in range(per_kind)]
    return plan


def run_query(form: str, args: dict):
    from webapp.vendor_side import search

    query = search.KeyQuery.from_api(args) if form == "api" else search.KeyQuery.from_page(args)
    return search.search_keys(query, cursor=args.get("cursor"), limit=search.page_size(args.get("limit")))


def time_queries(app, plan: dict) -> dict[str, list[tuple[str, float, int]]]:
    timings: dict[str, list[tuple[str, float, int]]] = {kind: [] for kind in plan}
    with app.app_context():
        for form, _value, args in plan["install_id"][:10]:  # warm up: connections, statement caches
            run_query(form, args)
            db.session.remove()
        rounds = max(len(q) for q in plan.values())
        for i in range(rounds):  # the kinds interleaved, so that machine noise hits them alike
            for kind, items in plan.items():
                if i >= len(items):
                    continue
                form, _value, args = items[i]
                started = time.perf_counter()
                page = run_query(form, args)
                timings[kind].append((form, (time.perf_counter() - started) * 1000, len(page.rows)))
                db.session.remove()
    return timings


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))]


def explain(app, plan: dict) -> None:
    """Each query shape's plan: the SQL search_keys sends, captured, then explained."""
    with app.app_context():
        engine = db.engine
        postgres = engine.dialect.name == "postgresql"
        captured: list[tuple[str, object]] = []

        def capture(conn, cursor, statement, parameters, context, executemany):
            captured.append((statement, parameters))

        event.listen(engine, "before_cursor_execute", capture)
        shapes = [(kind, items[i][0], items[i][2]) for kind, items in plan.items()
                  for i in ((0, 2) if kind in KINDS else (0, 1))]
        for kind, form, args in shapes:
            captured.clear()
            run_query(form, args)
            db.session.remove()
            statement, parameters = captured[-1]
            print(f"\n-- {kind} via {form} {args}")
            with engine.connect() as conn:
                prefix = "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "
                for row in conn.exec_driver_sql(prefix + statement, parameters):
                    print("   ", " | ".join(str(c) for c in row))
        event.remove(engine, "before_cursor_execute", capture)


def profile(app, plan: dict, kind: str) -> None:
    with app.app_context():
        profiler = cProfile.Profile()
        profiler.enable()
        for form, _value, args in plan[kind]:
            run_query(form, args)
            db.session.remove()
        profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
    print(out.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, required=True, help="issued keys to fill")
    parser.add_argument("--database", help="a database URL (default: a temporary SQLite file)")
    parser.add_argument("--queries", type=int, default=200, help="queries per kind (half missing values)")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--explain", action="store_true", help="print each query shape's plan")
    parser.add_argument("--profile", choices=(*KINDS, LIST), help="cProfile that kind's queries")
    parser.add_argument("--keep", action="store_true", help="keep the temporary SQLite file")
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="bench-search-")
    url = args.database or f"sqlite:///{folder}/search.db"
    app = build_app(url, folder)
    create_schema(app)
    print(f"filling {args.keys:,} keys into {app.config['SQLALCHEMY_DATABASE_URI'].split('@')[-1]}", file=sys.stderr)
    samples, fill_seconds = fill(app, args.keys, args.seed, max(args.queries, 1000))
    with app.app_context():
        from webapp.vendor_side.models import CodeBinding, IssuedKey

        n_keys = db.session.scalar(db.select(db.func.count()).select_from(IssuedKey))
        n_bindings = db.session.scalar(db.select(db.func.count()).select_from(CodeBinding))
        installs = db.session.scalar(db.select(db.func.count(db.distinct(IssuedKey.install_id))))
        db.session.remove()
    print(f"filled {n_keys:,} keys ({installs:,} install IDs, {n_bindings:,} codes) in {fill_seconds:.1f} s")

    plan = queries(samples, args.queries, random.Random(args.seed + 1))
    if args.explain:
        explain(app, plan)
    if args.profile:
        profile(app, plan, args.profile)
    timings = time_queries(app, plan)

    print(f"\n{'kind':<11} {'form':<5} {'queries':>7} {'found':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    summary = {}
    for kind, rows in timings.items():
        for form in (("api", "page", "all") if kind in KINDS else ("first", "cursor", "all")):
            chosen = [r for i, r in enumerate(rows) if form in ("all", r[0]) or form == ("first", "cursor")[i % 2]]
            ms = [r[1] for r in chosen]
            p50, p95 = statistics.median(ms), percentile(ms, 95)
            found = sum(1 for r in chosen if r[2])
            print(f"{kind:<11} {form:<5} {len(ms):>7} {found:>6} {p50:>8.2f} {p95:>8.2f} {max(ms):>8.2f}")
        if kind in KINDS:
            summary[kind] = {"p50_ms": round(p50, 2), "p95_ms": round(p95, 2)}
    if args.keep and not args.database:
        print(f"kept: {url}", file=sys.stderr)
    else:
        shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
