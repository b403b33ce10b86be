"""The instances that use capacity: create, resize, delete, each checked against the license.

Writes that change capacity use first update the state row, which serializes them on every
database (a row lock on PostgreSQL, the write lock on SQLite), so two of them can never both
pass a capacity check.
"""
from __future__ import annotations

import re

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from .. import audit, clock, inputs, product_key
from ..i18n import gettext as _
from ..database import db
from . import license_rules as sm
from .license_record import build, forget, license_row, raise_high_water
from .models import STATE_ROW_ID, EnvironmentState, Instance

INSTANCE_NAME_RE = re.compile(r"[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?")
MAX_INSTANCE_AKU = 100_000


class InstanceError(Exception):
    code = "invalid_input"
    http_status = 422

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code

    def __str__(self) -> str:
        return self.message


class InstanceNameTaken(InstanceError):
    code = "instance_name_taken"
    http_status = 409


class InstanceNotFound(InstanceError):
    code = "not_found"
    http_status = 404


def validate_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InstanceError(_("Give the instance a name."), field="name", code="invalid_name")
    name = name.strip()
    if not INSTANCE_NAME_RE.fullmatch(name):
        raise InstanceError(
            _("An instance name has 1 to 63 characters: lowercase letters, digits and hyphens, "
              "starting with a letter and not ending with a hyphen (for example kafka-prod-1)."),
            field="name",
            code="invalid_name",
        )
    return name


def validate_aku(value: object) -> int:
    """A whole number of AKU (an int, or ASCII digits) from 1 to MAX_INSTANCE_AKU."""
    aku = inputs.whole_number(value, 1, MAX_INSTANCE_AKU)
    if aku is None:
        raise InstanceError(
            _("Capacity is a whole number of AKU from 1 to %(max)s, written in digits 0-9.", max=f"{MAX_INSTANCE_AKU:,}"),
            field="aku", code="invalid_aku",
        )
    return aku


def instances() -> list[Instance]:
    return list(db.session.scalars(select(Instance).order_by(Instance.name)))


def get_instance(instance_id: object) -> Instance:
    """The instance of that id (an int, or its digits from an address); InstanceNotFound else."""
    ident = inputs.record_id(instance_id)
    found = db.session.get(Instance, ident) if ident is not None else None
    if found is None:
        raise InstanceNotFound(_("There is no instance %(id)s.", id=ident) if ident is not None else
                               _("There is no such instance: an instance's id is a whole number."))
    return found


def _lock() -> sm.LicenseState:
    """Take the capacity lock (update the state row) and read the license inside it."""
    license_row()  # the row is made first, outside this transaction
    now = clock.now()
    db.session.execute(
        update(EnvironmentState)
        .where(EnvironmentState.id == STATE_ROW_ID)
        .values(revision=EnvironmentState.revision + 1, high_water_at=raise_high_water(now))
    )
    return build(license_row(), now)


def create_instance(name: object, aku: object, *, actor: str | None = None) -> Instance:
    name = validate_name(name)
    aku = validate_aku(aku)
    actor = actor or audit.current_actor_name()
    try:
        lic = _lock()
        if db.session.scalar(select(Instance.id).where(Instance.name == name)) is not None:
            raise InstanceNameTaken(_("An instance named %(name)s already exists: choose another name.", name=name), field="name")
        lic.check_create(aku)
        now = lic.now
        inst = Instance(name=name, aku=aku, created_at=now, updated_at=now, created_by=actor)
        db.session.add(inst)
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise InstanceNameTaken(_("An instance named %(name)s already exists: choose another name.", name=name), field="name") from None
    except (InstanceError, sm.CapacityError):
        db.session.rollback()
        raise
    audit.record(
        "instance_created",
        actor=actor,
        subject=f"instance:{inst.id}",
        install_id=lic.install_id,
        after={"name": name, "aku": aku},
    )
    db.session.commit()
    forget()
    return inst


def resize_instance(instance_id: object, aku: object, *, actor: str | None = None) -> Instance:
    aku = validate_aku(aku)
    actor = actor or audit.current_actor_name()
    try:
        lic = _lock()
        inst = get_instance(instance_id)
        before = inst.aku
        lic.check_resize(before, aku)
    except (InstanceError, sm.CapacityError):
        db.session.rollback()
        raise
    if aku != before:
        inst.aku = aku
        inst.updated_at = lic.now
        audit.record(
            "instance_grown" if aku > before else "instance_shrunk",
            actor=actor,
            subject=f"instance:{inst.id}",
            install_id=lic.install_id,
            before={"name": inst.name, "aku": before},
            after={"name": inst.name, "aku": aku},
        )
    db.session.commit()
    forget()
    return inst


def delete_instance(instance_id: object, *, actor: str | None = None) -> None:
    actor = actor or audit.current_actor_name()
    try:
        lic = _lock()
        inst = get_instance(instance_id)
    except InstanceError:
        db.session.rollback()
        raise
    audit.record(
        "instance_deleted",
        actor=actor,
        subject=f"instance:{inst.id}",
        install_id=lic.install_id,
        before={"name": inst.name, "aku": inst.aku},
    )
    db.session.delete(inst)
    db.session.commit()
    forget()


def instance_json(inst: Instance) -> dict:
    return {
        "id": inst.id,
        "name": inst.name,
        "aku": inst.aku,
        "createdAt": product_key.format_time(inst.created_at),
    }
