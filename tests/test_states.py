"""States are `enum.StrEnum`s: members equal, print and serialise as the strings the database
columns, the JSON API and the product keys have always held."""
from __future__ import annotations

import json

import pytest

from marketplace_adapter.parsing import KNOWN_STATUSES, LIVE_STATUSES, CodeStatus
from webapp import product_key
from webapp.config import ROLES, Role
from webapp.environment import license_rules
from webapp.environment.models import ActivationResult, ActivationSource
from webapp.models.accounts import ROLES as ACCOUNT_ROLES, AccountRole
from webapp.vendor_side.marketplace import ACTIVATE_MODES, ActivateMode
from webapp.vendor_side.models import BINDING_STATES, BindingState, KeyStatus
from webapp.vendor_side.reconcile import FindingKind
from webapp.vendor_side.rules import Change
from webapp.vendor_side.search import STATUSES as KEY_STATES, KeyState

ENUMS = [Role, AccountRole, license_rules.LicenseStatus, product_key.KeyType, product_key.Channel, KeyStatus,
         BindingState, KeyState, FindingKind, Change, ActivateMode, ActivationSource, ActivationResult, CodeStatus]


@pytest.mark.parametrize("enum", ENUMS, ids=lambda e: e.__name__)
def test_members_are_their_strings(enum):
    for member in enum:
        assert member == member.value and str(member) == member.value and f"{member}" == member.value
        assert json.dumps({member: member}) == json.dumps({member.value: member.value})
        assert hash(member) == hash(member.value) and enum(member.value) is member


def test_the_closed_sets_keep_their_values_and_order():
    assert ROLES == ("vendor", "environment", "both")
    assert ACCOUNT_ROLES == ("operator", "issuer", "admin")
    assert license_rules.STATUSES == ("trial", "active", "expiring", "expired")
    assert BINDING_STATES == ("pending", "bound", "replaced")
    assert KEY_STATES == ("active", "superseded", "expired", "renewed")
    assert ACTIVATE_MODES == ("required", "best-effort", "off")
    assert product_key.TYPES == {"subscription", "trial-extension"}
    assert product_key.CHANNELS == {"alibaba-marketplace", "offline-contract"}
    assert LIVE_STATUSES == {"ACTIVATED", "INACTIVATED"} and KNOWN_STATUSES == LIVE_STATUSES | {"EXPIRED", "DISCARD"}
    assert {member.value for member in KeyStatus} == {"active", "superseded"}


def test_roles_say_their_sides():
    assert [role for role in Role if role.vendor] == [Role.VENDOR, Role.BOTH]
    assert [role for role in Role if role.environment] == [Role.ENVIRONMENT, Role.BOTH]
