"""Authorization codes bound to install IDs (`CodeBinding`): a code is found by its keyed hash,
never stored in the clear (`webapp.datakey`); what staff see of the buyer's account.
"""
from __future__ import annotations

from flask import current_app

from ..database import db
from ..datakey import data_key
from .models import BindingState, CodeBinding, IssuedKey


def _codes():
    return data_key(current_app.config["LICENSE_DATA_KEY"])


def code_hash(code: str) -> str:
    return _codes().lookup_hash(code)


def encrypt_code(code: str) -> str:
    return _codes().encrypt(code)


def decrypt_code(binding: CodeBinding) -> str:
    return _codes().decrypt(binding.code_encrypted)


def find_binding(code: str) -> CodeBinding | None:
    return db.session.scalar(db.select(CodeBinding).where(CodeBinding.code_hash == code_hash(code)))


def is_owner(binding: CodeBinding | None, install_id: str) -> bool:
    """Whether `install_id` is the environment the code is bound to (its renewal checks)."""
    return binding is not None and binding.state == BindingState.BOUND and binding.install_id == install_id


def bound_to(code: str, install_id: str) -> bool:
    """One indexed read, no marketplace call: is the code bound to this install ID?"""
    return is_owner(find_binding(code), install_id)


def latest_key_for_binding(binding_id: int) -> IssuedKey | None:
    return db.session.scalar(
        db.select(IssuedKey).where(IssuedKey.binding_id == binding_id).order_by(IssuedKey.issued_at.desc(), IssuedKey.seq.desc())
    )


def mask_uid(uid: int | None) -> str:
    """A buyer account id as staff see it: the first 4 and last 4 digits."""
    if not uid:
        return ""
    text = str(uid)
    return text[:4] + "****" + text[-4:] if len(text) > 8 else "****" + text[-2:]
