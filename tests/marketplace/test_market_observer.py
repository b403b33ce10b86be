"""The client's `observer`: one `MarketCall` per attempt, with the marketplace's request id,
the error code of a failed attempt, and the time it took (what metrics and logs are made of)."""
from __future__ import annotations

import logging

import pytest

from marketplace_adapter import MarketCall, errors


def test_a_successful_call_reports_its_action_request_id_and_time(sim_client, fake_time, market_sim):
    calls: list[MarketCall] = []
    market_sim.inject_fault("slow", delay=0.25, actions="DescribeLicense")
    client = sim_client(observer=calls.append)
    lic = client.describe_license("DEMO-AKU20-READY-7K3Q")
    assert lic.status == "INACTIVATED"
    [call] = calls
    assert call.action == "DescribeLicense" and call.error_code is None and call.http_status == 200
    assert call.request_id and call.attempt == 1
    assert call.seconds == pytest.approx(0.25)  # the fake clock moved by the simulator's delay


def test_every_attempt_is_reported_with_its_error_code(sim_client, market_sim):
    calls: list[MarketCall] = []
    market_sim.inject_fault("server_error", count=2)
    client = sim_client(observer=calls.append, max_attempts=3)
    client.describe_license("DEMO-AKU20-READY-7K3Q")
    assert [(c.error_code, c.http_status, c.attempt) for c in calls] == [
        ("ServiceUnavailable", 503, 1), ("ServiceUnavailable", 503, 2), (None, 200, 3)]
    assert all(c.request_id for c in calls)


def test_a_refused_code_reports_the_marketplace_code(sim_client):
    calls: list[MarketCall] = []
    client = sim_client(observer=calls.append)
    with pytest.raises(errors.CodeNotFound) as raised:
        client.describe_license("NO-SUCH-CODE-0000")
    [call] = calls
    assert call.error_code == raised.value.code and call.request_id == raised.value.request_id
    assert call.http_status == raised.value.http_status


def test_a_lost_answer_reports_the_transport_error(sim_client, market_sim):
    calls: list[MarketCall] = []
    market_sim.inject_fault("drop", actions="ActivateLicense")
    client = sim_client(observer=calls.append)
    assert client.activate_license("DEMO-AKU20-READY-7K3Q", 1234567890120001) is True
    assert [(c.action, c.error_code) for c in calls] == [
        ("ActivateLicense", "ConnectionAborted"), ("DescribeLicense", None)]
    assert calls[0].request_id is None and calls[0].http_status is None


def test_an_observer_that_fails_never_breaks_the_call(sim_client, caplog):
    def broken(call):
        raise RuntimeError("metrics backend down")

    client = sim_client(observer=broken)
    with caplog.at_level(logging.WARNING, logger="marketplace_adapter"):
        assert client.describe_license("DEMO-AKU20-READY-7K3Q").status == "INACTIVATED"
    assert "observer failed" in caplog.text
