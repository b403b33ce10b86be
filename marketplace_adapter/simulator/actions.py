"""The Market API actions the simulator serves, DescribeLicense and ActivateLicense, answered as the
real service answers them (within the simulator's options); :data:`ACTIONS` names them.

Each handler takes the simulator, the verified caller and the time, and returns the answer's
document without its request id, or raises the :class:`GatewayError` the service answers.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

from .codes import CodeRecord
from .gateway import Caller, GatewayError

if TYPE_CHECKING:
    from .app import Simulator

__all__ = ["ACTIONS", "Action", "describe_license", "activate_license"]

Action = Callable[["Simulator", Caller, datetime], dict[str, Any]]

_LIVE = ("ACTIVATED", "INACTIVATED")


def describe_license(sim: Simulator, caller: Caller, now: datetime) -> dict[str, Any]:
    with sim.state.lock:
        record = _owned_record(sim, caller)
        status = _effective_status(record, now)
        if status in ("EXPIRED", "DISCARD") and \
                (record.dead_as or sim.dead_code_style) == "error":
            raise _dead_code_error(status)
        return {"License": _license_document(sim, record, status)}


def activate_license(sim: Simulator, caller: Caller, now: datetime) -> dict[str, Any]:
    identification = caller.params.get("Identification") or ""
    if sim.reject_sts_activation and caller.security_token:
        raise GatewayError(400, "Auth.CallerType",
                           "RAM users or STS tokens are not supported for this action.")
    with sim.state.lock:
        record = _owned_record(sim, caller)
        status = _effective_status(record, now)
        if status in ("EXPIRED", "DISCARD"):
            raise _dead_code_error(status)
        if status == "ACTIVATED":
            if (record.identification or "") != identification:
                raise GatewayError(400, "License.Invalid",
                                   "The license code was activated by another account.")
        else:
            record.status = "ACTIVATED"
            record.activated_at = now
            record.identification = identification or None
    return {"Success": "true" if sim.success_as_string else True}


#: The actions the simulator serves, by the name a request gives in ``Action``; any other name
#: answers ``InvalidAction.NotFound``.
ACTIONS: dict[str, Action] = {
    "DescribeLicense": describe_license,
    "ActivateLicense": activate_license,
}


def _owned_record(sim: Simulator, caller: Caller) -> CodeRecord:
    code = caller.params.get("LicenseCode", "")
    if not code:
        raise GatewayError(400, "MissingLicenseCode", "LicenseCode is mandatory for this action.")
    record = sim.state.codes.get(code)
    if record is None:
        raise GatewayError(400, "License.NotFound", "The license code is not found.")
    if (record.seller or sim.seller) != caller.access_key.seller:
        raise GatewayError(400, "Auth.Match", "The license code does not belong to you.")
    if record.status == "INVALID":
        raise GatewayError(400, "License.Invalid", "The license code is invalid.")
    return record


def _effective_status(record: CodeRecord, now: datetime) -> str:
    if record.status in _LIVE and record.expires_at is not None and record.expires_at <= now:
        return "EXPIRED"
    return record.status


def _dead_code_error(status: str) -> GatewayError:
    if status == "EXPIRED":
        return GatewayError(400, "License.Expired", "The license code has expired.")
    return GatewayError(400, "License.Discard", "The license code has been discarded.")


def _license_document(sim: Simulator, record: CodeRecord, status: str) -> dict[str, Any]:
    attributes = []
    if record.specification:
        attributes.append({"Code": "package_version", "Value": record.specification})
    if record.order_ids:
        attributes.append({"Code": "orderId", "Value": ",".join(record.order_ids)})
        attributes.append({"Code": "orderBizId", "Value": record.order_ids[0]})
    uid = record.ali_uid or 0
    if uid and record.uid_in in ("attribute", "both"):
        attributes.append({"Code": "aliUid", "Value": str(uid)})
    return {
        "LicenseCode": record.code,
        "LicenseStatus": status,
        "InstanceId": record.instance_id,
        "ProductCode": record.product_code,
        "ProductSkuId": record.sku_id,
        "ProductName": record.product_name,
        "SupplierName": record.supplier_name,
        "CreateTime": _format_time(sim, record.created_at),
        "ActivateTime": _format_time(sim, record.activated_at),
        "ExpiredTime": _format_time(sim, record.expires_at),
        "ExtendArray": {"LicenseAttribute": attributes},
        "ExtendInfo": {
            "AliUid": uid if record.uid_in in ("extend_info", "both") else 0,
            "AccountQuantity": record.account_quantity,
            "Email": record.email,
            "Mobile": record.mobile,
        },
    }


def _format_time(sim: Simulator, moment: datetime | None) -> str:
    if moment is None:
        return ""
    if sim.time_format == "iso":
        return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%MZ")
    return moment.astimezone(sim.market_tz).strftime("%Y-%m-%d %H:%M:%S")
