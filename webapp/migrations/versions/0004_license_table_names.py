"""every table named license_*: rename the tables of a database made before the prefix

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 10:00:00

0001-0003 create the plugin's tables as license_users, license_audit_events, ... (a host
console's database has tables of its own named users, audit_events, api_tokens...). A database
they migrated before that holds the plugin's tables under the old names: this migration renames
each of them, with everything named after it (its primary key, unique and check constraints,
foreign keys and indexes; on PostgreSQL its id sequence; the audit log's append-only triggers
and, on PostgreSQL, their function), so that both paths end at the same schema, rows kept.

A table is renamed only when it is there under its old name and not yet under its new one. In a
database made by the 0001-0003 of today every new name is there, and a table under an old name
is someone else's (a host's own `users`): it is left alone. (The other way round cannot happen:
the old 0001 could not have created its tables beside a host's of the same names.)

SQLite keeps constraint names inside each table's CREATE TABLE, so a table there is made again
under its new name from its own stored DDL with the names replaced, its rows copied, and the old
one dropped (https://www.sqlite.org/lang_altertable.html#otheralter); its indexes and triggers
likewise. PostgreSQL renames in place (ALTER ... RENAME), which also keeps the sequences' values.

Downgrade does nothing: the 0003 below it now has the license_* names too.
"""
import re

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

# Each table under its old name (in the order 0001-0003 created them: a referenced table before
# the tables that refer to it), its new name, and the old -> new names of what is named after it.
TABLES = [
    ("audit_events", "license_audit_events", {
        "pk_audit_events": "pk_license_audit_events",
        "ix_audit_events_action": "ix_license_audit_events_action",
        "ix_audit_events_actor": "ix_license_audit_events_actor",
        "ix_audit_events_at": "ix_license_audit_events_at",
        "ix_audit_events_install_id": "ix_license_audit_events_install_id",
        "ix_audit_events_subject": "ix_license_audit_events_subject",
        "audit_events_id_seq": "license_audit_events_id_seq",
        "audit_events_no_update": "license_audit_events_no_update",  # SQLite's triggers
        "audit_events_no_delete": "license_audit_events_no_delete",
        "audit_events_append_only": "license_audit_events_append_only",  # PostgreSQL's trigger, function
    }),
    ("install_sequences", "license_install_sequences", {
        "pk_install_sequences": "pk_license_install_sequences",
    }),
    ("issued_keys", "license_issued_keys", {
        "pk_issued_keys": "pk_license_issued_keys",
        "uq_issued_keys_install_seq": "uq_license_issued_keys_install_seq",
        "ix_issued_keys_binding_id": "ix_license_issued_keys_binding_id",
        "ix_issued_keys_expires_at": "ix_license_issued_keys_expires_at",
        "ix_issued_keys_install_id": "ix_license_issued_keys_install_id",
        "ix_issued_keys_status": "ix_license_issued_keys_status",
    }),
    ("signing_keys", "license_signing_keys", {
        "pk_signing_keys": "pk_license_signing_keys",
        "uq_signing_keys_kid": "uq_license_signing_keys_kid",
        "uq_signing_keys_one_active": "uq_license_signing_keys_one_active",
        "signing_keys_id_seq": "license_signing_keys_id_seq",
    }),
    ("users", "license_users", {
        "pk_users": "pk_license_users",
        "uq_users_email": "uq_license_users_email",
        "users_id_seq": "license_users_id_seq",
    }),
    ("api_tokens", "license_api_tokens", {
        "pk_api_tokens": "pk_license_api_tokens",
        "uq_api_tokens_token_sha256": "uq_license_api_tokens_token_sha256",
        "fk_api_tokens_user_id_users": "fk_license_api_tokens_user_id_license_users",
        "ix_api_tokens_user_id": "ix_license_api_tokens_user_id",
        "api_tokens_id_seq": "license_api_tokens_id_seq",
    }),
    ("environment_activations", "license_environment_activations", {
        "pk_environment_activations": "pk_license_environment_activations",
        "ix_environment_activations_at": "ix_license_environment_activations_at",
        "environment_activations_id_seq": "license_environment_activations_id_seq",
    }),
    ("environment_instances", "license_environment_instances", {
        "pk_environment_instances": "pk_license_environment_instances",
        "uq_environment_instances_name": "uq_license_environment_instances_name",
        "ck_environment_instances_aku_positive": "ck_license_environment_instances_aku_positive",
        "environment_instances_id_seq": "license_environment_instances_id_seq",
    }),
    ("environment_state", "license_environment_state", {
        "pk_environment_state": "pk_license_environment_state",
        "uq_environment_state_install_id": "uq_license_environment_state_install_id",
        "ck_environment_state_single_row": "ck_license_environment_state_single_row",
    }),
    ("code_bindings", "license_code_bindings", {
        "pk_code_bindings": "pk_license_code_bindings",
        "uq_code_bindings_code_hash": "uq_license_code_bindings_code_hash",
        "ix_code_bindings_ali_uid": "ix_license_code_bindings_ali_uid",
        "ix_code_bindings_code_last4": "ix_license_code_bindings_code_last4",
        "ix_code_bindings_install_id": "ix_license_code_bindings_install_id",
        "ix_code_bindings_state": "ix_license_code_bindings_state",
        "code_bindings_id_seq": "license_code_bindings_id_seq",
    }),
]


def upgrade():
    bind = op.get_bind()
    present = set(sa.inspect(bind).get_table_names())
    todo = [(old, new, names) for old, new, names in TABLES if old in present and new not in present]
    if not todo:
        return
    if bind.dialect.name == "sqlite":
        _remake_on_sqlite(bind, todo)
    elif bind.dialect.name == "postgresql":
        _rename_on_postgresql(bind, todo)
    else:  # the plugin runs on SQLite and PostgreSQL; elsewhere, the tables at least
        for old, new, _ in todo:
            op.rename_table(old, new)


def downgrade():
    pass


def _remake_on_sqlite(bind, todo):
    renames = {}
    for old, new, names in TABLES:
        renames[old] = new
        renames.update(names)
    word = re.compile(r"\b(" + "|".join(sorted(map(re.escape, renames), key=len, reverse=True)) + r")\b")

    def renamed(sql):
        return word.sub(lambda m: renames[m.group(1)], sql)

    for old, new, _ in todo:
        objects = bind.exec_driver_sql(
            "SELECT type, sql FROM sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL "
            "ORDER BY type = 'table' DESC, rowid", (old,)).all()
        columns = ", ".join('"%s"' % row[1] for row in bind.exec_driver_sql(f'PRAGMA table_info("{old}")'))
        for type_, sql in objects:
            op.execute(renamed(sql))
            if type_ == "table":
                op.execute(f'INSERT INTO "{new}" ({columns}) SELECT {columns} FROM "{old}"')
    for old, _, _ in reversed(todo):  # the tables referring to others first
        op.execute(f'DROP TABLE "{old}"')


def _rename_on_postgresql(bind, todo):
    def found(query, **params):
        return bind.execute(sa.text(query), params).scalar()

    for old, new, names in todo:
        op.execute(f'ALTER TABLE "{old}" RENAME TO "{new}"')
        for was, now in names.items():
            if found("SELECT 1 FROM pg_constraint WHERE conrelid = CAST(:t AS regclass) AND conname = :n", t=new, n=was):
                op.execute(f'ALTER TABLE "{new}" RENAME CONSTRAINT "{was}" TO "{now}"')  # and its index
            kind = found("SELECT relkind FROM pg_class WHERE oid = to_regclass(:n)", n=f'"{was}"')
            if kind == "i":
                op.execute(f'ALTER INDEX "{was}" RENAME TO "{now}"')
            elif kind == "S":
                op.execute(f'ALTER SEQUENCE "{was}" RENAME TO "{now}"')
            if found("SELECT 1 FROM pg_trigger WHERE tgrelid = CAST(:t AS regclass) AND tgname = :n", t=new, n=was):
                op.execute(f'ALTER TRIGGER "{was}" ON "{new}" RENAME TO "{now}"')
            if found("SELECT 1 FROM pg_proc WHERE oid = to_regprocedure(:n)", n=f'"{was}"()'):
                op.execute(f'ALTER FUNCTION "{was}"() RENAME TO "{now}"')
