"""`db`, the plugin's database seam. The models are declared on the plugin's own declarative
`Base` (`db.Model`), and the session and engine are those of the Flask-SQLAlchemy instance the
app runs the plugin on: a host console's own (`init_app(app, db=host_db)`), whose session
queries the plugin's models as well as its own, or else the plugin's (`own_db`, the standalone
app). The plugin's tables are `Base.metadata`, migrated by the plugin (`flask license db upgrade`).
"""
from __future__ import annotations

from flask import current_app, has_app_context
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names, so Alembic migrations are the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


own_db = SQLAlchemy(model_class=Base)


def database() -> SQLAlchemy:
    """The Flask-SQLAlchemy instance of the current app's plugin (the host's, or `own_db`)."""
    if has_app_context():
        state = current_app.extensions.get("license_platform")
        if state is not None and state.db is not None:
            return state.db
    return own_db


class LicenseDatabase:
    """`db.session`, `db.engine`, `db.create_all()` of the database the plugin runs on;
    everything else (`db.Model`, `db.select`, `db.func`) of the plugin's own instance."""

    metadata = Base.metadata

    @property
    def session(self):
        return database().session

    @property
    def engine(self):
        return database().engine

    def read(self, statement, params: dict | None = None):
        """Run a Core read on the session's connection: in the session's transaction, after its
        pending changes (autoflush), but without the ORM's result processing, which costs more
        than the query on the hot paths (docs/performance.md). Answers a Core `Result` of rows."""
        session = self.session
        if session.autoflush:
            session.flush()
        return session.connection().execute(statement, params)

    def create_all(self) -> None:
        """The plugin's tables (not a host's), as `db.create_all()` does for the standalone app."""
        self.metadata.create_all(bind=self.engine)

    def drop_all(self) -> None:
        self.metadata.drop_all(bind=self.engine)

    def __getattr__(self, name):
        return getattr(own_db, name)


db = LicenseDatabase()
