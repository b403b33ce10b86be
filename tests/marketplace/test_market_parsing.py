"""Every documented variant of the DescribeLicense and ActivateLicense answers."""

from __future__ import annotations

import copy
import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

from marketplace_adapter import License, errors
from marketplace_adapter.parsing import parse_license, parse_market_time, parse_success

UTC = timezone.utc

# The shape of Alibaba's published demo answer.
DEMO_ANSWER = {
    "RequestId": "6EF60BEC-0242-43AF-BB20-270359FB54A7",
    "License": {
        "ActivateTime": "2019-05-25 09:00:00", "LicenseStatus": "ACTIVATED", "ProductName": "LNMP",
        "ExpiredTime": "2019-06-25 09:00:00", "ProductSkuId": "cmgj02****-prepay",
        "CreateTime": "2019-05-25 09:00:00", "LicenseCode": "-", "InstanceId": "1551111111",
        "SupplierName": "**", "ProductCode": "cmgj02****",
        "ExtendArray": {"LicenseAttribute": [{"Code": "package_version", "Value": "yuncode000111"}]},
        "ExtendInfo": {"AliUid": 0, "AccountQuantity": 0, "Email": "id***@**.com",
                       "Mobile": "129****1111"},
    },
}


def answer(**license_fields) -> dict:
    body = copy.deepcopy(DEMO_ANSWER)
    for key, value in license_fields.items():
        if value is None:
            body["License"].pop(key, None)
        else:
            body["License"][key] = value
    return body


def test_published_demo_answer():
    lic = parse_license(DEMO_ANSWER, requested_code="CODE-1234")
    assert lic == License(
        code="CODE-1234",
        status="ACTIVATED",
        instance_id="1551111111",
        product_code="cmgj02****",
        sku_id="cmgj02****-prepay",
        product_name="LNMP",
        supplier_name="**",
        created_at=datetime(2019, 5, 25, 1, 0, tzinfo=UTC),
        activated_at=datetime(2019, 5, 25, 1, 0, tzinfo=UTC),
        expires_at=datetime(2019, 6, 25, 1, 0, tzinfo=UTC),
        specification="yuncode000111",
        order_ids=[],
        ali_uid=None,  # 0 means "not given"
        attributes={"package_version": "yuncode000111"},
    )


def test_license_is_a_frozen_dataclass_with_the_interface_fields():
    names = [f.name for f in dataclasses.fields(License)]
    assert names == ["code", "status", "instance_id", "product_code", "sku_id", "product_name",
                     "supplier_name", "created_at", "activated_at", "expires_at", "specification",
                     "order_ids", "ali_uid", "attributes"]
    lic = parse_license(DEMO_ANSWER, requested_code="CODE-1234")
    with pytest.raises(dataclasses.FrozenInstanceError):
        lic.status = "EXPIRED"  # type: ignore[misc]


def test_license_code_from_the_answer_without_a_requested_code():
    assert parse_license(answer(LicenseCode="REAL-CODE")).code == "REAL-CODE"


def test_plain_times_are_in_the_market_time_zone():
    lic = parse_license(answer(ExpiredTime="2019-06-25 09:00:00"), market_tz="UTC")
    assert lic.expires_at == datetime(2019, 6, 25, 9, 0, tzinfo=UTC)
    lic = parse_license(answer(ExpiredTime="2019-06-25 09:00:00"), market_tz="+09:00")
    assert lic.expires_at == datetime(2019, 6, 25, 0, 0, tzinfo=UTC)


def test_old_iso_times_are_utc():
    lic = parse_license(answer(CreateTime="2016-05-18T14:14Z", ExpiredTime="2016-06-18T14:14:30Z"))
    assert lic.created_at == datetime(2016, 5, 18, 14, 14, tzinfo=UTC)
    assert lic.expires_at == datetime(2016, 6, 18, 14, 14, 30, tzinfo=UTC)


@pytest.mark.parametrize("empty", ["", "  ", None])
def test_empty_times_are_none(empty):
    body = answer(ActivateTime=empty) if empty is not None else answer(ActivateTime=None)
    lic = parse_license(body)
    assert lic.activated_at is None


def test_all_times_are_timezone_aware_utc():
    lic = parse_license(DEMO_ANSWER)
    for moment in (lic.created_at, lic.activated_at, lic.expires_at):
        assert moment.tzinfo is not None and moment.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2019-05-25 09:00:00", datetime(2019, 5, 25, 1, 0, tzinfo=UTC)),
        ("2019-05-25 09:00", datetime(2019, 5, 25, 1, 0, tzinfo=UTC)),
        ("2019-05-25 09:00:00.0", datetime(2019, 5, 25, 1, 0, tzinfo=UTC)),
        ("2016-05-18T14:14Z", datetime(2016, 5, 18, 14, 14, tzinfo=UTC)),
        ("2016-05-18T22:14+08:00", datetime(2016, 5, 18, 14, 14, tzinfo=UTC)),
        (1558746000000, datetime(2019, 5, 25, 1, 0, tzinfo=UTC)),
        ("1558746000000", datetime(2019, 5, 25, 1, 0, tzinfo=UTC)),
        (0, None),
        ("", None),
    ],
)
def test_parse_market_time_forms(value, expected):
    assert parse_market_time(value, "Asia/Shanghai") == expected


@pytest.mark.parametrize("value", ["yesterday", "2019/05/25", "25-05-2019 09:00", True])
def test_unreadable_times_raise(value):
    with pytest.raises(ValueError):
        parse_market_time(value)


def test_unreadable_time_in_an_answer_is_a_bad_response():
    with pytest.raises(errors.BadResponse) as caught:
        parse_license(answer(ExpiredTime="next tuesday"), request_id="RID")
    assert caught.value.request_id == "RID"
    assert "ExpiredTime" in caught.value.message


@pytest.mark.parametrize("value", ["²", "１５５８７４６０００", "1" * 5000, 10**30, "9" * 17])
def test_a_crafted_time_in_an_answer_is_a_bad_response(value):
    """Issue 11: "²" passes str.isdigit() and fails int(); an epoch past datetime's range
    raises OverflowError, not ValueError. Each is an answer this client cannot read."""
    with pytest.raises(errors.BadResponse):
        parse_license(answer(ExpiredTime=value), request_id="RID")


def test_specification_order_ids_and_attributes():
    body = answer(ExtendArray={"LicenseAttribute": [
        {"Code": "package_version", "Value": "aku-40"},
        {"Code": "orderId", "Value": "210001, 210002,,210003"},
        {"Code": "orderBizId", "Value": "210001"},
        {"Code": "activeAddress", "Value": "cn-hangzhou"},
        {"Code": "expiresTime", "Value": 1700000000000},
    ]})
    lic = parse_license(body)
    assert lic.specification == "aku-40"
    assert lic.order_ids == ["210001", "210002", "210003"]
    assert lic.attributes == {"package_version": "aku-40", "orderId": "210001, 210002,,210003",
                              "orderBizId": "210001", "activeAddress": "cn-hangzhou",
                              "expiresTime": "1700000000000"}


@pytest.mark.parametrize("extend_array", [{"LicenseAttribute": "package_version"}, 42])
def test_unreadable_attributes_are_a_bad_response_with_the_request_id(extend_array):
    with pytest.raises(errors.BadResponse) as caught:
        parse_license(answer(ExtendArray=extend_array), request_id="RID-7")
    assert (caught.value.request_id, caught.value.http_status) == ("RID-7", 200)
    assert "LicenseAttribute" in caught.value.message


def test_no_attributes_means_no_specification_and_no_orders():
    lic = parse_license(answer(ExtendArray=None))
    assert (lic.specification, lic.order_ids, lic.attributes) == (None, [], {})


def test_single_attribute_object_instead_of_a_list():
    lic = parse_license(answer(ExtendArray={"LicenseAttribute": {"Code": "package_version",
                                                                  "Value": "aku-20"}}))
    assert lic.specification == "aku-20"


@pytest.mark.parametrize(
    ("extend_info_uid", "attribute_uid", "expected"),
    [
        (1234567890123456, None, 1234567890123456),
        ("1234567890123456", None, 1234567890123456),
        (1234567890123456, "999", 1234567890123456),  # ExtendInfo first
        (0, "1234567890123456", 1234567890123456),    # then the attribute
        (None, "1234567890123456", 1234567890123456),
        (0, "0", None),
        (None, None, None),
        (0, "not-a-number", None),
        # Issue 11: ASCII digits within signed 64 bits, what the database stores; else not given.
        (2**63, None, None),
        ("9" * 30, None, None),
        ("１２３", None, None),
        ("²", None, None),
        (-5, None, None),
    ],
)
def test_ali_uid_sources(extend_info_uid, attribute_uid, expected):
    body = answer()
    if extend_info_uid is None:
        body["License"]["ExtendInfo"].pop("AliUid")
    else:
        body["License"]["ExtendInfo"]["AliUid"] = extend_info_uid
    if attribute_uid is not None:
        body["License"]["ExtendArray"]["LicenseAttribute"].append(
            {"Code": "aliUid", "Value": attribute_uid})
    assert parse_license(body).ali_uid == expected


def test_missing_extend_info_is_fine():
    assert parse_license(answer(ExtendInfo=None)).ali_uid is None


@pytest.mark.parametrize("status", ["ACTIVATED", "INACTIVATED", "EXPIRED", "DISCARD"])
def test_every_status_parses(status):
    assert parse_license(answer(LicenseStatus=status)).status == status


def test_status_is_normalised_to_upper_case():
    assert parse_license(answer(LicenseStatus="activated")).status == "ACTIVATED"


@pytest.mark.parametrize(
    "body",
    [
        {"RequestId": "x"},
        {"RequestId": "x", "License": "nope"},
        answer(LicenseStatus=None),
        answer(LicenseStatus=""),
        [],
        "text",
    ],
)
def test_missing_fields_are_bad_responses(body):
    with pytest.raises(errors.BadResponse):
        parse_license(body, requested_code="CODE-1")


def test_is_live():
    now = datetime(2019, 6, 1, tzinfo=UTC)
    assert parse_license(answer(LicenseStatus="ACTIVATED")).is_live(now)
    assert parse_license(answer(LicenseStatus="INACTIVATED")).is_live(now)
    assert not parse_license(answer(LicenseStatus="EXPIRED")).is_live(now)
    assert not parse_license(answer(LicenseStatus="DISCARD")).is_live(now)
    assert not parse_license(answer(LicenseStatus="SOMETHING-NEW")).is_live(now)
    past_expiry = datetime(2019, 6, 25, 1, 0, tzinfo=UTC)
    assert not parse_license(answer()).is_live(past_expiry)
    assert parse_license(answer()).is_live(past_expiry - timedelta(seconds=1))
    assert parse_license(answer(ExpiredTime="")).is_live(now)
    with pytest.raises(ValueError):
        parse_license(answer()).is_live(datetime(2019, 6, 1))


def test_repr_masks_the_code():
    lic = parse_license(DEMO_ANSWER, requested_code="SECRET-CODE-WXYZ")
    assert "SECRET-CODE" not in repr(lic)
    assert "****WXYZ" in repr(lic)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), (False, False), ("true", True), ("True", True), ("false", False),
     ("FALSE", False)],
)
def test_success_as_boolean_or_string(value, expected):
    assert parse_success({"RequestId": "x", "Success": value}) is expected


@pytest.mark.parametrize("body", [{"RequestId": "x"}, {"Success": "yes"}, {"Success": 1}, []])
def test_success_missing_or_odd_is_a_bad_response(body):
    with pytest.raises(errors.BadResponse):
        parse_success(body)
