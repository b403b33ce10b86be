"""The production wiring end to end: real credentials, V1 and V3 signatures, over HTTP on
loopback to the simulator running as its own server (as the real Market API would be)."""
from __future__ import annotations

import pytest

from marketplace_adapter.simulator import (
    DEMO_ACCESS_KEY_ID,
    DEMO_ACCESS_KEY_SECRET,
    DEMO_PRODUCT_CODE,
    Simulator,
    SimulatorServer,
    demo_codes,
)

from .conftest import INSTALL

SIMULATOR = Simulator(demo_codes())


@pytest.fixture(scope="module")
def server():
    running = SimulatorServer(SIMULATOR).start()
    yield running
    running.stop()


@pytest.fixture(params=["v1", "v3"])
def app_config(request, server):
    return {
        "ALIBABA_CLOUD_ACCESS_KEY_ID": DEMO_ACCESS_KEY_ID,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": DEMO_ACCESS_KEY_SECRET,
        "MARKETPLACE_ENDPOINT": server.url,
        "MARKETPLACE_SIGNATURE_VERSION": request.param,
        "MARKETPLACE_PRODUCT_CODE": DEMO_PRODUCT_CODE,
        "MARKETPLACE_SPECS": '{"aku-20": {"aku": 20, "name": "AutoMQ 20 AKU"}, "aku-40": 40}',
    }


def test_issue_and_refuse_over_loopback(app, client, issuer_api):
    assert app.extensions["license_vendor"].simulator is None
    code = "DEMO-AKU40-READY-9M2X" if app.config["MARKETPLACE_SIGNATURE_VERSION"] == "v1" else "DEMO-AKU20-ACTIVE-4T8P"
    response = client.post("/api/v1/product-keys", json={"authorizationCode": code, "installId": INSTALL},
                           headers=issuer_api)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["license"]["aku"] in (20, 40)
    assert SIMULATOR.get_code(code)["status"] == "ACTIVATED"
    refused = client.post("/api/v1/redeem", json={"authorizationCode": "DEMO-OTHERSELLER-6B9D", "installId": INSTALL})
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "code_other_seller"
