"""`/metrics` (LICENSE_METRICS=1): Prometheus's text format, the vendor's counts (keys issued,
redemptions, marketplace calls, reconcile runs) and the environment's license read at the scrape.

The counters live in the process (prometheus_client's registry), so the tests compare a scrape
before and after what they do."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from prometheus_client.parser import text_string_to_metric_families

from webapp import metrics

INSTALL = "0123456789abcdef0123456789abcdef"
OTHER_INSTALL = "fedcba9876543210fedcba9876543210"


@pytest.fixture
def app_config():
    return {"LICENSE_METRICS": True, "VENDOR_REDEEM_CLIENT_LIMITS": "3/minute"}


def scrape(client, **headers) -> dict:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.data
    assert response.content_type.startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_are_off_by_default(tmp_path):
    from webapp import create_app
    from webapp.config import TestConfig

    config = TestConfig().__dict__.copy()
    config.update(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 't.db'}", LICENSE_INSTANCE_PATH=str(tmp_path))
    app = create_app(config)
    assert app.config["LICENSE_METRICS"] is False
    assert app.test_client().get("/metrics").status_code == 404


def test_keys_issued_by_channel(app, client, api_token):
    from webapp.vendor_side import offline

    before = scrape(client)
    answer = client.post("/api/v1/product-keys", headers=api_token("issuer"),
                         json={"authorizationCode": "DEMO-AKU20-READY-7K3Q", "installId": INSTALL})
    assert answer.status_code == 201
    again = client.post("/api/v1/product-keys", headers=api_token("issuer"),
                        json={"authorizationCode": "DEMO-AKU20-READY-7K3Q", "installId": INSTALL})
    assert again.status_code == 200  # nothing changed: the stored key, not a new one
    with app.app_context():
        order = offline.read_order({"install_id": OTHER_INSTALL, "aku": "5", "days": "9", "contract": "C-1",
                                    "type": "trial-extension", "reason": "pilot"})
        offline.issue_offline(order, actor="test")
    after = scrape(client)
    name = "license_keys_issued_total"
    assert value(after, name, channel="alibaba-marketplace", type="subscription") - \
        value(before, name, channel="alibaba-marketplace", type="subscription") == 1
    assert value(after, name, channel="offline-contract", type="trial-extension") - \
        value(before, name, channel="offline-contract", type="trial-extension") == 1


def test_redemptions_by_result_and_marketplace_calls_by_action_and_error(client):
    before = scrape(client)
    ok = client.post("/api/v1/redeem", json={"authorizationCode": "DEMO-AKU40-READY-9M2X", "installId": INSTALL})
    expired = client.post("/api/v1/redeem", json={"authorizationCode": "DEMO-EXPIRED-5R1N", "installId": INSTALL})
    unknown = client.post("/api/v1/redeem", json={"authorizationCode": "NO-SUCH-CODE-1", "installId": INSTALL})
    limited = client.post("/api/v1/redeem", json={"authorizationCode": "NO-SUCH-CODE-2", "installId": INSTALL})
    assert [r.status_code for r in (ok, expired, unknown, limited)] == [201, 422, 404, 429]
    after = scrape(client)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    results = {"ok": 1, "code_expired": 1, "code_not_found": 1, "rate_limited": 1}
    for result, count in results.items():
        assert delta("license_redemptions_total", result=result) == count, result
    calls = "license_marketplace_calls_total"
    assert delta(calls, action="DescribeLicense", result="ok") == 2  # the ready code, the expired one
    assert delta(calls, action="DescribeLicense", result="License.NotFound") == 1
    assert delta(calls, action="ActivateLicense", result="ok") == 1
    assert delta("license_marketplace_call_seconds_count", action="DescribeLicense") == 3
    assert delta("license_http_requests_total", endpoint="vendor_api.redeem_code", method="POST", status="429") == 1


def test_reconcile_results(app, client, api_token):
    from webapp.vendor_side import reconcile
    from webapp.vendor_side.marketplace import market

    for code, install in (("DEMO-AKU20-READY-7K3Q", INSTALL), ("DEMO-AKU40-READY-9M2X", OTHER_INSTALL)):
        assert client.post("/api/v1/product-keys", headers=api_token("issuer"),
                           json={"authorizationCode": code, "installId": install}).status_code == 201
    with app.app_context():
        market().simulator.renew("DEMO-AKU20-READY-7K3Q", days=30)
    before = scrape(client)
    with app.app_context():
        report = reconcile.reconcile()
    assert report.checked == 2
    after = scrape(client)
    assert value(after, "license_reconcile_runs_total") - value(before, "license_reconcile_runs_total") == 1
    for result in ("ok", "renewed"):
        assert value(after, "license_reconcile_codes_total", result=result) - \
            value(before, "license_reconcile_codes_total", result=result) == 1, result


def test_the_environment_license_is_read_at_each_scrape(app, client):
    from webapp.environment import instances

    first = scrape(client)
    # a 14-day trial that began a moment ago: 13 whole days left, as the API's daysLeft says
    assert value(first, "license_days_left") == 13 and value(first, "license_aku_licensed") == 14
    assert value(first, "license_aku_in_use") == 0 and value(first, "license_status", status="trial") == 1
    with app.test_request_context("/"):
        instances.create_instance("kafka-1", 3, actor="test")
    second = scrape(client)
    assert value(second, "license_aku_in_use") == 3
    assert value(second, "license_expiry_timestamp_seconds") > datetime.now(timezone.utc).timestamp()


def test_a_scrape_without_the_database_still_answers_the_counters(client, monkeypatch, caplog):
    from sqlalchemy.exc import OperationalError

    from webapp.environment import license_record

    def unreachable(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(license_record, "current_license", unreachable)
    samples = scrape(client)
    assert ("license_aku_licensed", ()) not in samples
    assert any(name == "license_http_requests_total" for name, _ in samples)
    assert "the license could not be read: OperationalError" in caplog.text


@pytest.mark.parametrize("app_config", [{"LICENSE_METRICS": True, "LICENSE_METRICS_TOKEN": "scrape-token-123"}])
def test_a_metrics_token_is_asked_when_set(client):
    refused = client.get("/metrics")
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Bearer"
    assert b"LICENSE_METRICS_TOKEN" in refused.data
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert scrape(client, Authorization="Bearer scrape-token-123")


def test_in_a_host_console_the_metrics_live_under_the_prefix(tmp_path):
    from ..host_console.conftest import console_app

    app = next(console_app(tmp_path, {"WTF_CSRF_ENABLED": False, "LICENSE_METRICS": True}))
    client = app.test_client()
    assert client.get("/metrics").status_code == 404  # the host's address space stays the host's
    response = client.get("/license/metrics")
    assert response.status_code == 200 and b"license_aku_licensed 14.0" in response.data


def test_on_starting_empties_the_multiprocess_directory_of_metric_files_only(tmp_path, monkeypatch):
    for name in ("counter_11.db", "histogram_11.db", "gauge_livesum_11.db", "notes.txt"):
        (tmp_path / name).write_text("x")
    monkeypatch.setenv(metrics.MULTIPROC_ENV, str(tmp_path))
    metrics.on_starting(None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_child_exit_removes_the_live_gauges_of_the_worker_that_ended(tmp_path, monkeypatch):
    for name in ("gauge_livesum_11.db", "gauge_livesum_12.db", "counter_11.db"):
        (tmp_path / name).write_text("x")
    monkeypatch.setenv(metrics.MULTIPROC_ENV, str(tmp_path))

    class Worker:
        pid = 11

    metrics.child_exit(None, Worker())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["counter_11.db", "gauge_livesum_12.db"]
