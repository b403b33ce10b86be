"""The names the plugin takes in an app's Jinja environment, which a host console shares with it.

Templates: the plugin's all live under one folder, `license/` (templates/license/...), found
through its `license_ui` blueprint. Flask looks for a template in the app's own templates folder
first, then in each blueprint's in the order they were registered, so a host's template of the
same name would be used instead of the plugin's: `refuse_shadowed_templates` refuses to start
when any of the plugin's names leads the app's Jinja to a file that is not the plugin's (a host's
`templates/license/base.html`, say); a host's `templates/base.html` is its own.

Escaping: every template of the plugin is autoescaped, whatever its extension
(`autoescape_own_templates`). Flask's rule escapes `.html`, `.xml`, ... only, and the buyer's
message (`license/vendor_side/_buyer_message.txt`) is included inside a `<textarea>`: a
reference or product name holding `</textarea>` would otherwise close it and add markup.

Filters, globals and context: `app.jinja_env`'s filters and globals are the whole app's. The
plugin's (`when`, `day`, `iso`, `license_command`, `vendor_mask_uid`, `vendor_issued_change`,
`vendor_word`, `vendor_actor`, `csrf_token`) are added with `add_filter` and `add_global`, which refuse to replace a host's of
the same name; `claim_context_names` refuses the names the plugin's context processors put on
its pages when the app has a global of that name, which they would hide there.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable

from flask import Flask
from jinja2 import TemplateNotFound

NAMESPACE = "license"


class TemplateNameClash(RuntimeError):
    """A name the plugin needs in the app's Jinja environment is already the host's."""


def _describe(value: Any) -> str:
    module = getattr(value, "__module__", None)
    name = getattr(value, "__qualname__", None) or getattr(value, "__name__", None)
    return f"{module}.{name}" if module and name else repr(value)


def _claim(table: dict, kind: str, name: str, value: Any) -> None:
    if name in table and table[name] is not value:
        raise TemplateNameClash(
            f"The app's Jinja environment already has a {kind} named {name!r} ({_describe(table[name])}): "
            f"the license plugin adds its own {kind} {name!r} ({_describe(value)}) to every template of the "
            f"app and would replace it. Rename the app's {kind}."
        )


def add_filter(app: Flask, name: str, func: Callable) -> None:
    """`app.add_template_filter(func, name)`, refused when the app has another filter `name`."""
    _claim(app.jinja_env.filters, "filter", name, func)
    app.add_template_filter(func, name)


def add_global(app: Flask, name: str, value: Any) -> None:
    """`app.add_template_global(value, name)`, refused when the app has another global `name`."""
    _claim(app.jinja_env.globals, "global", name, value)
    app.add_template_global(value, name)


def claim_context_names(app: Flask, names: Iterable[str]) -> None:
    """Refuse when the app has a Jinja global named like a variable the plugin's context
    processors put on its pages (the variable would hide the global there, in a host's layout too)."""
    for name in names:
        if name in app.jinja_env.globals:
            raise TemplateNameClash(
                f"The app's Jinja environment has a global named {name!r} "
                f"({_describe(app.jinja_env.globals[name])}), a name the license plugin puts in its pages' "
                f"template context, where it would hide the app's. Rename the app's global."
            )


def refuse_shadowed_templates(app: Flask, folder: Path) -> None:
    """Refuse when one of the plugin's templates (the files under `folder`, each named by its path
    there, `license/...`) is found elsewhere by the app's Jinja: in the host's templates folder, a
    blueprint's registered before the plugin's, or a loader of the host's own."""
    loader = app.jinja_env.loader
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        name = path.relative_to(folder).as_posix()
        try:
            found = loader.get_source(app.jinja_env, name)[1]
        except TemplateNotFound:
            found = None
        if found is None or Path(found).resolve() != path.resolve():
            where = f"the file {found}" if found else "no file at all"
            raise TemplateNameClash(
                f"The app's Jinja finds {where} for the license plugin's template {name!r}: the plugin's "
                f"templates all live under {NAMESPACE}/, so keep the app's own templates out of a folder "
                f"of that name."
            )


def autoescape_own_templates(app: Flask) -> None:
    """Autoescape every template named `license/...` (the plugin's), whatever its extension; a
    host's own templates keep the app's rule (Flask's: by extension)."""
    env = app.jinja_env
    rule = env.autoescape
    if getattr(rule, "license_own_templates", False):
        return

    def select(name: str | None) -> bool:
        if name is not None and name.startswith(NAMESPACE + "/"):
            return True
        return rule(name) if callable(rule) else bool(rule)

    select.license_own_templates = True
    env.autoescape = select
