"""The client and the simulator over real HTTP on loopback: both signatures, one kept-alive TCP
connection for 100 calls, a real read timeout, a real dropped connection, nothing secret in
urllib3's logs or requests' errors, Alibaba's own SDK accepted by the simulator, and the command
line."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from marketplace_adapter import MarketplaceClient, errors
from marketplace_adapter.simulator import (
    DEMO_ACCESS_KEY_ID,
    DEMO_ACCESS_KEY_SECRET,
    Simulator,
    SimulatorServer,
    demo_codes,
)

READY = "DEMO-AKU20-READY-7K3Q"
ACTIVE = "DEMO-AKU20-ACTIVE-4T8P"
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("version", ["v1", "v3"])
def test_describe_and_activate_over_http(live_client, live_sim, version):
    client = live_client(signature_version=version)
    lic = client.describe_license(READY)
    assert lic.status == "INACTIVATED" and lic.specification == "aku-20"
    assert client.activate_license(READY, lic.ali_uid) is True
    assert client.describe_license(READY).status == "ACTIVATED"
    assert live_sim.get_code(READY)["identification"] == str(lic.ali_uid)
    with pytest.raises(errors.CodeNotForThisSeller):
        client.describe_license("DEMO-OTHERSELLER-6B9D")


def test_hundred_calls_reuse_one_tcp_connection(live_client, sim_server):
    client = live_client(signature_version="v1")
    for n in range(100):
        client.describe_license(ACTIVE if n % 2 else READY)
    assert sim_server.connections_accepted == 1


def test_hundred_calls_reuse_one_tcp_connection_v3(live_client, sim_server):
    client = live_client(signature_version="v3")
    for _ in range(100):
        client.describe_license(READY)
    assert sim_server.connections_accepted == 1


def test_a_new_client_is_a_new_connection(live_client, sim_server):
    live_client().describe_license(READY)
    live_client().describe_license(READY)
    assert sim_server.connections_accepted == 2


def test_real_read_timeout(live_client, live_sim):
    live_sim.inject_fault("slow", 1, delay=0.5)
    with pytest.raises(errors.MarketplaceUnavailable) as caught:
        live_client(timeout=0.1, max_attempts=1).describe_license(READY)
    assert caught.value.code == "ReadTimeout"


def test_connection_refused_is_unavailable_and_keeps_the_url_to_itself(caplog):
    caplog.set_level(logging.DEBUG)
    # A port that was free a moment ago: nothing listens there.
    server = SimulatorServer(Simulator(), "127.0.0.1", 0)
    url = server.url
    server.stop()
    sleeps: list[float] = []
    session = requests.Session()
    session.trust_env = False
    client = MarketplaceClient("id", "secret", endpoint=url, timeout=1.0, sleep=sleeps.append,
                               session=session)
    with pytest.raises(errors.MarketplaceUnavailable) as caught:
        client.describe_license(READY)
    error = caught.value
    assert error.code in ("ConnectionError", "ConnectTimeout")
    assert len(sleeps) == 2  # three attempts
    # requests' own message here is "... Max retries exceeded with url: /?...&LicenseCode=...":
    # none of it may reach the error, its chain, or the logs.
    texts = [str(error), repr(error), error.message, error.advice]
    texts += [record.getMessage() for record in caplog.records]
    assert any("Starting new HTTP connection" in text for text in texts)  # urllib3 did log
    for text in texts:
        assert READY not in text, text
    assert error.__cause__ is None and error.__context__ is None


def test_urllib3_debug_log_of_the_request_line_is_masked(live_client, caplog):
    caplog.set_level(logging.DEBUG)
    for version in ("v1", "v3"):
        live_client(signature_version=version,
                    security_token="sts-token-SECRETPART").describe_license(READY)
    request_lines = [record.getMessage() for record in caplog.records
                     if record.name == "urllib3.connectionpool" and "POST /?" in record.getMessage()]
    assert len(request_lines) == 2, "urllib3 logs the request line with its query at DEBUG"
    v1_line, v3_line = request_lines
    assert "LicenseCode=****7K3Q" in v1_line and "Signature=****" in v1_line
    assert "SecurityToken=****" in v1_line
    assert "LicenseCode=****7K3Q" in v3_line
    for record in caplog.records:
        message = record.getMessage()
        assert READY not in message and "SECRETPART" not in message, message
        assert DEMO_ACCESS_KEY_SECRET not in message


def test_dropped_connection_over_http(live_client, live_sim):
    client = live_client(max_attempts=1)
    live_sim.inject_fault("drop")
    with pytest.raises(errors.MarketplaceUnavailable) as caught:
        client.describe_license(READY)
    assert caught.value.code == "ConnectionAborted"
    # Retried by a client that may, and the activation it swallowed is found by reading.
    live_sim.inject_fault("drop")
    assert live_client().describe_license(READY).status == "INACTIVATED"
    live_sim.inject_fault("drop", actions=["ActivateLicense"])
    assert live_client().activate_license(READY, "1234567890120001") is True
    assert [(c["action"], c["fault"]) for c in live_sim.calls()][-3:] == [
        ("DescribeLicense", None), ("ActivateLicense", "drop"), ("DescribeLicense", None)]


def test_server_says_connection_close_when_it_closes(live_sim, sim_server):
    with requests.Session() as session:
        session.trust_env = False
        for _ in range(3):
            answer = session.get(f"{sim_server.url}/_control/options",
                                 headers={"Connection": "close"}, timeout=5)
            assert answer.status_code == 200 and answer.headers["Connection"] == "close"
        assert session.get(f"{sim_server.url}/_control/options", timeout=5).status_code == 200
    assert sim_server.connections_accepted == 4


def test_server_log_masks_codes_in_control_paths(sim_server, caplog):
    caplog.set_level(logging.INFO, logger="marketplace_adapter.simulator")
    answer = requests.post(f"{sim_server.url}/_control/codes/{ACTIVE}/renew", json={"days": 1},
                           timeout=5)
    assert answer.status_code == 200
    lines = [record.getMessage() for record in caplog.records
             if record.name == "marketplace_adapter.simulator"]
    assert any("/_control/codes/****4T8P/renew" in line for line in lines), lines
    assert not any(ACTIVE in line for line in lines)


def test_throttling_over_http(live_client, live_sim):
    live_sim.inject_fault("throttle", 1, retry_after_ms=10)
    sleeps: list[float] = []
    assert live_client(sleep=sleeps.append).describe_license(READY)
    assert sleeps and sleeps[0] >= 0.01


def test_http_control_over_loopback(live_client, sim_server):
    answer = requests.post(f"{sim_server.url}/_control/codes/{ACTIVE}/specification",
                           json={"specification": "aku-40"}, timeout=5)
    assert answer.status_code == 200
    assert live_client().describe_license(ACTIVE).specification == "aku-40"


# ------------------------------------------------------------- Alibaba's own SDK


def _official_client(port: int, secret: str, algorithm: str | None, token: str | None = None):
    from alibabacloud_tea_openapi import utils_models as models
    from alibabacloud_tea_openapi.client import Client

    config = models.Config(access_key_id=DEMO_ACCESS_KEY_ID, access_key_secret=secret,
                           security_token=token, endpoint=f"127.0.0.1:{port}", protocol="http",
                           signature_algorithm=algorithm)
    return Client(config)


def _official_call(client, action: str, query: dict, method: str = "POST"):
    from alibabacloud_tea_openapi import utils_models as models
    from darabonba.runtime import RuntimeOptions

    params = models.Params(action=action, version="2015-11-01", protocol="HTTP", pathname="/",
                           method=method, auth_type="AK", style="RPC",
                           req_body_type="formData", body_type="json")
    return client.call_api(params, models.OpenApiRequest(query=query),
                           RuntimeOptions(autoretry=False, max_attempts=1))


@pytest.mark.parametrize(("algorithm", "version"), [(None, "v3"), ("v2", "v1")])
def test_official_sdk_is_accepted_by_the_simulator(live_sim, sim_server, algorithm, version):
    client = _official_client(sim_server.port, DEMO_ACCESS_KEY_SECRET, algorithm)
    answer = _official_call(client, "DescribeLicense", {"LicenseCode": READY})
    assert answer["statusCode"] == 200
    assert answer["body"]["License"]["LicenseStatus"] == "INACTIVATED"
    answer = _official_call(client, "ActivateLicense",
                            {"LicenseCode": READY, "Identification": "1234567890120001"})
    assert answer["body"]["Success"] is True
    assert [call["signature_version"] for call in live_sim.calls()] == [version, version]


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize(("algorithm", "version"), [(None, "v3"), ("v2", "v1")])
def test_official_sdk_with_an_sts_token_and_either_method(live_sim, sim_server, algorithm, version,
                                                          method):
    live_sim.accepted_security_tokens = frozenset({"sts-tok"})  # so the token must arrive, signed
    client = _official_client(sim_server.port, DEMO_ACCESS_KEY_SECRET, algorithm, token="sts-tok")
    answer = _official_call(client, "DescribeLicense", {"LicenseCode": READY}, method)
    assert answer["body"]["License"]["LicenseStatus"] == "INACTIVATED"
    with pytest.raises(Exception) as caught:  # the SDK's own error class for a 400
        _official_call(client, "DescribeLicense", {"LicenseCode": "DEMO-OTHERSELLER-6B9D"}, method)
    assert "Auth.Match" in str(caught.value)
    assert [call["signature_version"] for call in live_sim.calls()] == [version, version]


@pytest.mark.parametrize("algorithm", [None, "v2"])
def test_official_sdk_with_a_wrong_secret_is_refused(sim_server, algorithm):
    client = _official_client(sim_server.port, "not-the-secret", algorithm)
    with pytest.raises(Exception) as caught:
        _official_call(client, "DescribeLicense", {"LicenseCode": READY})
    assert "SignatureDoesNotMatch" in str(caught.value)


# ------------------------------------------------------------- command line


def _run_cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "marketplace_adapter.simulator", *args],
                          capture_output=True, text=True, timeout=30, env=env, cwd=REPO, **kwargs)


def test_cli_serves_a_codes_file(tmp_path):
    codes = tmp_path / "codes.json"
    codes.write_text(json.dumps({"codes": [{"code": "CLI-CODE-0001", "specification": "aku-20",
                                            "expires_at": "+30d"}]}))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-m", "marketplace_adapter.simulator", "--port", "0", "--codes",
         str(codes), "--access-key-id", "cli-id", "--access-key-secret", "cli-secret"],
        stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=REPO)
    try:
        first_line = process.stderr.readline()
        match = re.search(r"on (http://127\.0\.0\.1:\d+)", first_line)
        assert match, first_line
        client = MarketplaceClient("cli-id", "cli-secret", endpoint=match.group(1), timeout=5)
        assert client.describe_license("CLI-CODE-0001").specification == "aku-20"
        banner = first_line + process.stderr.readline() + process.stderr.readline()
        assert "cli-secret" not in banner  # only the demo secret is ever printed
        client.close()
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_cli_writes_the_demo_codes(tmp_path):
    target = tmp_path / "demo.json"
    result = _run_cli("--write-demo-codes", str(target))
    assert result.returncode == 0, result.stderr
    codes = json.loads(target.read_text())["codes"]
    assert {code["code"] for code in codes} == {code["code"] for code in demo_codes()}


def test_cli_refuses_a_broken_codes_file(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("{nope")
    result = _run_cli("--codes", str(broken), "--port", "0")
    assert result.returncode == 2
    assert "cannot load the codes" in result.stderr
