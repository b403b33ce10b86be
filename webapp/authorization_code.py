"""What an authorization code is, for both sides: one rule for reading one, one way to mask it.

The marketplace's authorization codes are printable strings without spaces. People copy them
from the Buyer Console or an e-mail, so whitespace (a leading space, a line break where a mail
wrapped the code) is removed before anything else. Each side words the refusal for its own
readers (staff, buyers, operators); what is refused is decided here.
"""
from __future__ import annotations

MAX_LENGTH = 256


class CodeInvalid(ValueError):
    """`reason`: "blank" (nothing given) or "malformed" (not printable, or too long)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def normalize(value: object) -> str:
    """The code with every whitespace character removed; CodeInvalid when it cannot be one."""
    code = "".join(value.split()) if isinstance(value, str) else ""
    if not code:
        raise CodeInvalid("blank")
    if len(code) > MAX_LENGTH or not code.isprintable():
        raise CodeInvalid("malformed")
    return code


def mask(value: str | None) -> str:
    """`****` plus the last 4 characters: how a code appears in lists, logs, keys and audit rows."""
    if not value:
        return ""
    return "****" + value.strip()[-4:]
