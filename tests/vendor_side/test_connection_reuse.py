"""Issue 12: the vendor side keeps one kept-alive connection to the Market API for all its issues,
proved against a real loopback server that counts the TCP connections it accepts (not timing)."""
from __future__ import annotations

import uuid

import pytest

from marketplace_adapter.simulator import (
    DEMO_ACCESS_KEY_ID,
    DEMO_ACCESS_KEY_SECRET,
    DEMO_PRODUCT_CODE,
    Simulator,
    SimulatorServer,
)
from webapp.vendor_side.issuing import issue_from_code

ISSUES = 12
CODES = [f"REUSE-CODE-{n:04d}" for n in range(ISSUES)]


@pytest.fixture
def server():
    simulator = Simulator([{
        "code": code, "status": "INACTIVATED", "product_code": DEMO_PRODUCT_CODE,
        "sku_id": f"{DEMO_PRODUCT_CODE}-prepay", "specification": "aku-20",
        "expires_at": "2099-01-01T00:00:00Z", "ali_uid": 1234567890140000 + n,
    } for n, code in enumerate(CODES)])
    running = SimulatorServer(simulator).start()
    yield running
    running.stop()


@pytest.fixture(params=["v1", "v3"])
def app_config(request, server):
    return {
        "LICENSE_ROLE": "vendor",
        "ALIBABA_CLOUD_ACCESS_KEY_ID": DEMO_ACCESS_KEY_ID,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": DEMO_ACCESS_KEY_SECRET,
        "MARKETPLACE_ENDPOINT": server.url,
        "MARKETPLACE_SIGNATURE_VERSION": request.param,
        "MARKETPLACE_PRODUCT_CODE": DEMO_PRODUCT_CODE,
        "MARKETPLACE_SPECS": '{"aku-20": 20}',
        "MARKETPLACE_ACTIVATE": "required",
    }


def test_every_issue_goes_over_one_kept_alive_connection(app, server):
    for code in CODES:
        with app.app_context():  # each issue in its own app context, as each request has
            issued = issue_from_code(code, uuid.uuid4().hex, actor="test")
            assert issued.created
    # DescribeLicense and ActivateLicense per issue: 24 calls, one TCP connection.
    assert server.connections_accepted == 1


def test_a_closed_connection_is_replaced_and_then_kept(app, server):
    with app.app_context():
        issue_from_code(CODES[0], uuid.uuid4().hex, actor="test")
        app.extensions["license_vendor"].client.session.close()  # as an idle timeout would
    for code in CODES[1:4]:
        with app.app_context():
            issue_from_code(code, uuid.uuid4().hex, actor="test")
    assert server.connections_accepted == 2
