"""Imports the environment side's and vendor side's tables, where those modules exist."""
import importlib

for _name in ("webapp.models.environment", "webapp.models.vendor"):
    try:
        importlib.import_module(_name)
    except ModuleNotFoundError as exc:  # a side not written yet, or stripped from a build
        if exc.name != _name:
            raise
