"""The core's tables (accounts, audit); `register_all()` imports every table of the plugin.

Each side keeps its tables next to its code (`webapp.environment.models`,
`webapp.vendor_side.models`). One migration chain creates all of them in every role, so an
environment's database holds the vendor's tables too, empty; the environment's code never
imports the vendor side's beyond those table declarations.
"""
from importlib import import_module

from .accounts import ApiToken, User  # noqa: F401
from .audit import AuditEvent  # noqa: F401

SIDE_MODELS = ("webapp.environment.models", "webapp.vendor_side.models")


def register_all() -> None:
    """Every table in `Base.metadata`, before Alembic or `create_all()` looks at it."""
    for name in SIDE_MODELS:
        import_module(name)
