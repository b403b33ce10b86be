"""`MARKETPLACE_SPECS`: which specification the buyer bought, and how much AKU it grants.

Pure: no Flask. The setting is a JSON object (a value starting with `{`), a path to a JSON
file, or (from Python) a mapping:

    {"aku-20": {"aku": 20, "name": "20 AKU"}, "cmgj0001-prepay": {"aku": 40}}

A code's specification is the `package_version` attribute, else its `ProductSkuId`.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class SpecsError(ValueError):
    """`MARKETPLACE_SPECS` is unreadable or malformed; the message names what to fix."""


@dataclass(frozen=True)
class Spec:
    key: str
    aku: int
    name: str | None = None


def parse_specs(source: str | Mapping[str, Any] | None) -> dict[str, Spec]:
    """The specification table; an empty table for None or an empty string."""
    if source is None or (isinstance(source, str) and not source.strip()):
        return {}
    if isinstance(source, Mapping):
        data: Any = source
    else:
        text = source.strip()
        if not text.startswith(("{", "[")):
            try:
                with open(text, encoding="utf-8") as fh:
                    text = fh.read()
            except OSError as exc:
                raise SpecsError(f"MARKETPLACE_SPECS: cannot read the file {source}: {exc.strerror}") from None
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise SpecsError(f"MARKETPLACE_SPECS is not valid JSON: {exc}") from None
    if not isinstance(data, Mapping):
        raise SpecsError('MARKETPLACE_SPECS must be a JSON object {"<specification>": {"aku": N, "name": "..."}}')
    specs: dict[str, Spec] = {}
    for key, value in data.items():
        if not isinstance(key, str) or not key.strip():
            raise SpecsError("MARKETPLACE_SPECS: every specification needs a non-empty name")
        if isinstance(value, bool) or not isinstance(value, (Mapping, int)):
            raise SpecsError(f'MARKETPLACE_SPECS[{key!r}] must be {{"aku": N, "name": "..."}}')
        if isinstance(value, int):  # shorthand: "spec": 20
            value = {"aku": value}
        aku = value.get("aku")
        if isinstance(aku, bool) or not isinstance(aku, int) or aku < 1:
            raise SpecsError(f"MARKETPLACE_SPECS[{key!r}].aku must be a positive integer")
        name = value.get("name")
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise SpecsError(f"MARKETPLACE_SPECS[{key!r}].name must be non-empty text when given")
        specs[key.strip()] = Spec(key=key.strip(), aku=aku, name=name.strip() if name else None)
    return specs


def specification_of(lic: Any) -> str | None:
    """The specification a marketplace `License` names: `package_version`, else the SKU id."""
    return getattr(lic, "specification", None) or getattr(lic, "sku_id", None)


def find_spec(specs: Mapping[str, Spec], lic: Any) -> Spec | None:
    """The spec of a `License`: by `package_version` first, then by `ProductSkuId`."""
    for candidate in (getattr(lic, "specification", None), getattr(lic, "sku_id", None)):
        if candidate and candidate in specs:
            return specs[candidate]
    return None
