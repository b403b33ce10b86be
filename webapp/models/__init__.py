"""All models, imported here so Alembic and `db.create_all()` see every table.

Each side keeps its tables in its own module; this package only collects them.
"""
from .accounts import ApiToken, User  # noqa: F401
from .audit import AuditEvent  # noqa: F401
from .signing import InstallSequence, IssuedKey, SigningKey  # noqa: F401
from . import _sides  # noqa: F401  (environment and vendor tables)
