"""Issue 14: events recorded once, signed webhooks (Standard Webhooks), retries, `flask license
notify` and `flask license webhooks ...`, with a real HTTP receiver on loopback."""
from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from standardwebhooks.webhooks import Webhook
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from webapp.database import db
from webapp.vendor_side import events, webhooks
from webapp.vendor_side.models import DeliveryState, Event, WebhookAttempt, WebhookDelivery

INSTALL = "f0d3d4e6bf28c50c4c73dc77de53a6b9"


# ------------------------------------------------------------------ a receiver on loopback


class Receiver:
    """A real HTTP server in a thread: records each request; answers `status` (a list is used in turn)."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.statuses: list[int] = []
        self.status = 204
        self.delay = 0.0  # seconds before answering
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}/hooks"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @Request.application
    def _app(self, request: Request) -> Response:
        self.requests.append({"headers": {k.lower(): v for k, v in request.headers.items()},
                              "body": request.get_data(), "path": request.path})
        status = self.statuses.pop(0) if self.statuses else self.status
        if self.delay:
            time.sleep(self.delay)
        return Response("nope" if status >= 300 else "", status=status)

    def start(self) -> "Receiver":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver():
    running = Receiver().start()
    yield running
    running.stop()


@pytest.fixture
def app_config():
    return {"LICENSE_WEBHOOK_ALLOW_PRIVATE": True, "LICENSE_WEBHOOK_TIMEOUT": 3.0}


@pytest.fixture
def cli(app):
    return app.test_cli_runner()


def add(cli, url: str, *events_: str) -> str:
    args = ["license", "webhooks", "add", url]
    for name in events_:
        args += ["--event", name]
    result = cli.invoke(args=args)
    assert result.exit_code == 0, result.stderr
    secret = result.stdout.strip()
    assert secret.startswith("whsec_") and "\n" not in secret
    return secret


def issue(cli, days: int = 60, aku: int = 40) -> None:
    result = cli.invoke(args=["license", "issue", "--install-id", INSTALL, "--aku", str(aku), "--days", str(days),
                              "--contract", "CT-14", "--reason", "webhook test"])
    assert result.exit_code == 0, result.stderr


def notify(cli) -> dict:
    result = cli.invoke(args=["license", "notify"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


# ------------------------------------------------------------------ pure parts


def test_signature_matches_the_standard_webhooks_test_vector_and_library():
    # the vector of the Standard Webhooks reference libraries' tests
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    msg_id, stamp, body = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
    assert webhooks.sign(secret, msg_id, stamp, body) == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    # and the library verifies what we sign, with a fresh secret and the current time
    secret = webhooks.new_secret()
    now = int(datetime.now(timezone.utc).timestamp())
    body = b'{"type":"key.issued","data":{}}'
    sent = webhooks.headers(secret, "msg_1", now, body)
    assert Webhook(secret).verify(body, sent) == {"type": "key.issued", "data": {}}
    assert Webhook(webhooks.new_secret()).verify  # another secret does not verify
    with pytest.raises(Exception):
        Webhook(webhooks.new_secret()).verify(body, sent)


def test_backoff_schedule_lasts_more_than_a_day_then_gives_up():
    delays = [webhooks.next_delay(n) for n in range(1, 20)]
    given = [d for d in delays if d is not None]
    assert given[:5] == [5, 300, 1800, 7200, 18000]
    assert sum(given) > 24 * 3600
    assert delays[len(given)] is None and all(d is None for d in delays[len(given):])
    assert webhooks.next_delay(0) is None


@pytest.mark.parametrize("url", [
    "ftp://example.com/x", "file:///etc/passwd", "http://127.0.0.1/x", "http://[::1]/x", "http://10.1.2.3/",
    "http://192.168.0.1/", "http://169.254.169.254/latest/meta-data", "http://localhost:8080/",
    "http://[::ffff:127.0.0.1]/", "http://user:pw@example.com/", "http://0.0.0.0/", "not a url",
])
def test_urls_refused_outside_the_private_allowance(url):
    with pytest.raises(webhooks.EndpointRefused):
        webhooks.check_url(url, allow_private=False)


def test_public_and_allowed_private_urls():
    assert webhooks.check_url("https://hooks.example.com/in", False) == ("https", "hooks.example.com", 443)
    assert webhooks.check_url("http://8.8.8.8:8080/", False) == ("http", "8.8.8.8", 8080)
    assert webhooks.check_url("http://127.0.0.1:9/", True) == ("http", "127.0.0.1", 9)
    with pytest.raises(webhooks.EndpointRefused):
        webhooks.check_url("http://0.0.0.0/", True)  # never an address to call


def test_every_resolved_address_is_checked(monkeypatch):
    answers = [(2, 1, 6, "", ("93.184.215.14", 443)), (2, 1, 6, "", ("10.0.0.7", 443))]
    monkeypatch.setattr(webhooks.socket, "getaddrinfo", lambda *a, **k: answers)
    with pytest.raises(webhooks.EndpointRefused, match="10.0.0.7"):
        webhooks.resolve("rebind.example", 443, allow_private=False)
    assert webhooks.resolve("rebind.example", 443, allow_private=True) == "93.184.215.14"


def test_remind_days_and_thresholds():
    assert events.remind_days("30, 7,1,7") == [30, 7, 1]
    with pytest.raises(ValueError):
        events.remind_days("30,soon")
    now = datetime(2026, 12, 1, tzinfo=timezone.utc)
    assert events.threshold_reached(now + timedelta(days=40), now, [30, 7, 1]) is None
    assert events.threshold_reached(now + timedelta(days=30), now, [30, 7, 1]) == 30
    assert events.threshold_reached(now + timedelta(days=5), now, [30, 7, 1]) == 7
    assert events.threshold_reached(now + timedelta(hours=3), now, [30, 7, 1]) == 1
    assert events.threshold_reached(now - timedelta(hours=3), now, [30, 7, 1]) is None
    assert events.days_left(now + timedelta(days=4, hours=23), now) == 5


# ------------------------------------------------------------------ end to end, on loopback


def test_a_key_issued_arrives_signed_and_verifies_with_the_reference_library(app, cli, receiver):
    secret = add(cli, receiver.url)
    issue(cli)
    summary = notify(cli)
    assert summary["deliveries"]["succeeded"] == 1
    assert len(receiver.requests) == 1
    sent = receiver.requests[0]
    assert sent["path"] == "/hooks"
    assert sent["headers"]["webhook-id"].startswith("msg_")
    assert sent["headers"]["webhook-signature"].startswith("v1,")
    assert sent["headers"]["content-type"] == "application/json"
    message = Webhook(secret).verify(sent["body"], sent["headers"])
    assert message["type"] == "key.issued"
    data = message["data"]
    assert data["installId"] == INSTALL and data["aku"] == 40 and data["seq"] == 1 and data["daysLeft"] == 60
    assert "timestamp" in message
    body = sent["body"].decode()
    with app.app_context():
        from webapp.vendor_side.models import IssuedKey

        key = db.session.scalar(db.select(IssuedKey))
        assert key.product_key not in body  # never the key itself
    # a second run sends nothing twice
    assert notify(cli)["deliveries"] == {"succeeded": 0, "retrying": 0, "failed": 0, "skipped": 0, "left": 0}
    assert len(receiver.requests) == 1


def test_expiry_reminder_once_then_the_tighter_one(app, cli, receiver):
    secret = add(cli, receiver.url, "license.expiring", "license.expired")
    issue(cli, days=5)
    first = notify(cli)
    assert first["events"]["license.expiring"] == 1
    assert first["deliveries"]["succeeded"] == 1  # key.issued is not asked for
    message = Webhook(secret).verify(receiver.requests[0]["body"], receiver.requests[0]["headers"])
    assert message["type"] == "license.expiring"
    assert message["data"]["remindDays"] == 7 and message["data"]["daysLeft"] == 5
    assert notify(cli)["events"]["license.expiring"] == 0  # never twice
    assert len(receiver.requests) == 1

    later = datetime.now(timezone.utc) + timedelta(days=4, hours=12)
    app.config["LICENSE_CLOCK"] = lambda: later
    assert notify(cli)["events"]["license.expiring"] == 1  # the 1-day one
    app.config["LICENSE_CLOCK"] = lambda: later + timedelta(days=1)
    assert notify(cli)["events"]["license.expired"] == 1
    assert notify(cli)["events"]["license.expired"] == 0
    types = [json.loads(r["body"])["type"] for r in receiver.requests]
    assert types == ["license.expiring", "license.expiring", "license.expired"]
    with app.app_context():
        reminders = db.session.scalars(db.select(Event.dedupe_key).where(Event.type == "license.expiring")).all()
        assert sorted(k.rsplit(":", 1)[1] for k in reminders) == ["1", "7"]


def test_a_receiver_that_fails_gets_the_retry_with_the_same_id(app, cli, receiver):
    secret = add(cli, receiver.url)
    receiver.statuses = [500]
    issue(cli)
    assert notify(cli)["deliveries"]["retrying"] == 1
    assert notify(cli)["deliveries"]["retrying"] == 0  # not due yet: 5 s later
    later = datetime.now(timezone.utc) + timedelta(seconds=10)
    app.config["LICENSE_CLOCK"] = lambda: later
    with app.app_context():
        assert webhooks.deliver_due(later)["succeeded"] == 1
        delivery = db.session.scalar(db.select(WebhookDelivery))
        assert delivery.state == DeliveryState.SUCCEEDED and delivery.attempts == 2
        attempts = db.session.scalars(db.select(WebhookAttempt).order_by(WebhookAttempt.id)).all()
        assert [(a.ok, a.status_code) for a in attempts] == [(False, 500), (True, 204)]
        assert attempts[0].response == "nope" and attempts[0].error == "HTTP 500"
    first, second = receiver.requests
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"]
    assert first["body"] == second["body"]
    app.config.pop("LICENSE_CLOCK")
    Webhook(secret).verify(second["body"], second["headers"])


def test_connection_refused_is_retried_on_schedule_then_failed(app, cli, receiver):
    receiver.stop()
    add(cli, receiver.url)
    issue(cli)
    assert notify(cli)["deliveries"]["retrying"] == 1
    with app.app_context():
        attempt = db.session.scalar(db.select(WebhookAttempt))
        assert attempt.error == "connection refused" and attempt.status_code is None
        delivery = db.session.scalar(db.select(WebhookDelivery))
        moment = datetime.now(timezone.utc)
        for _ in range(len(webhooks.SCHEDULE)):  # each retry when it is due
            moment = max(moment, delivery.next_attempt_at) + timedelta(seconds=1)
            app.config["LICENSE_CLOCK"] = lambda m=moment: m
            webhooks.deliver_due(moment)
            delivery = db.session.get(WebhookDelivery, delivery.id, populate_existing=True)
        assert delivery.state == DeliveryState.FAILED
        assert delivery.attempts == len(webhooks.SCHEDULE) + 1
        assert delivery.finished_at - delivery.created_at > timedelta(days=1)
    receiver.__init__()  # a fresh one for the fixture's stop()
    receiver.start()


def test_two_runners_never_claim_the_same_attempt(app, cli, receiver):
    add(cli, receiver.url)
    issue(cli)
    with app.app_context():
        seen = db.session.scalar(db.select(WebhookDelivery))
        now = datetime.now(timezone.utc) + timedelta(seconds=1)
        first = webhooks.claim(seen, now)
        second = webhooks.claim(seen, now)  # what another runner read before the first claimed
        assert first and second is None
        assert webhooks.deliver_due(now)["succeeded"] == 0  # claimed: not due for the lease
        webhooks.attempt(seen.id, first)
    assert len(receiver.requests) == 1


def test_redirects_are_not_followed(app, cli, receiver):
    receiver.status = 302
    add(cli, receiver.url)
    issue(cli)
    assert notify(cli)["deliveries"]["retrying"] == 1
    assert len(receiver.requests) == 1


def test_private_endpoints_are_refused_without_the_allowance(app, cli):
    app.config["LICENSE_WEBHOOK_ALLOW_PRIVATE"] = False
    result = cli.invoke(args=["license", "webhooks", "add", "http://127.0.0.1:9/x"])
    assert result.exit_code == 2 and "LICENSE_WEBHOOK_ALLOW_PRIVATE" in result.stderr and result.stdout == ""
    result = cli.invoke(args=["license", "webhooks", "add", "https://hooks.example.com/", "--event", "nope"])
    assert result.exit_code == 2 and "unknown event" in result.stderr


def test_webhooks_list_and_remove(app, cli, receiver):
    secret = add(cli, receiver.url, "key.issued")
    listed = [json.loads(line) for line in cli.invoke(args=["license", "webhooks", "list"]).stdout.splitlines()]
    assert [(e["url"], e["events"]) for e in listed] == [(receiver.url, ["key.issued"])]
    assert secret not in json.dumps(listed)
    result = cli.invoke(args=["license", "webhooks", "remove", str(listed[0]["id"])])
    assert result.exit_code == 0
    assert cli.invoke(args=["license", "webhooks", "list"]).stdout == ""
    assert cli.invoke(args=["license", "webhooks", "remove", str(listed[0]["id"])]).exit_code == 1
    issue(cli)
    notify(cli)
    assert receiver.requests == []


def test_events_are_recorded_once_even_without_endpoints(app, cli):
    issue(cli, days=3)
    assert notify(cli)["events"]["license.expiring"] == 1
    with app.app_context():
        assert events.scan_expiry()["license.expiring"] == 0
        rows = db.session.scalars(db.select(Event.type).order_by(Event.id)).all()
        assert rows == ["key.issued", "license.expiring"]
        assert db.session.scalar(db.select(db.func.count()).select_from(WebhookDelivery)) == 0


# ------------------------------------------------------------------ renewals and discards (reconcile)


READY = "DEMO-AKU20-READY-7K3Q"
ACTIVE = "DEMO-AKU20-ACTIVE-4T8P"
OTHER = "0" * 31 + "3"


def test_reconcile_records_renewed_and_discarded_codes_once(app, cli, receiver):
    from webapp.vendor_side import reconcile as reconciling
    from webapp.vendor_side.issuing import issue_from_code

    from .conftest import sim

    secret = add(cli, receiver.url, "code.renewed", "code.discarded")
    with app.app_context():
        issue_from_code(READY, INSTALL, actor="setup")
        issue_from_code(ACTIVE, OTHER, actor="setup")
    sim(app).renew(READY, days=30)
    sim(app).discard(ACTIVE)
    with app.app_context():
        reconciling.reconcile()
        reconciling.reconcile()  # read again: nothing recorded twice
        recorded = db.session.scalars(db.select(Event.type).where(Event.type.like("code.%")).order_by(Event.type)).all()
        assert recorded == ["code.discarded", "code.renewed"]
    assert notify(cli)["deliveries"]["succeeded"] == 2
    messages = {m["type"]: m for m in (Webhook(secret).verify(r["body"], r["headers"]) for r in receiver.requests)}
    renewed = messages["code.renewed"]["data"]
    assert renewed["installId"] == INSTALL and renewed["code"] == "****7K3Q" and renewed["change"] == "renewed"
    assert renewed["marketplace"]["expiresAt"] > renewed["expiresAt"]
    assert messages["code.discarded"]["data"]["code"] == "****4T8P"
    bodies = b"".join(r["body"] for r in receiver.requests).decode()
    assert READY not in bodies and ACTIVE not in bodies
    # the stored reads say the same on the next notify: still once
    assert notify(cli)["events"] == {"code.renewed": 0, "code.discarded": 0, "license.expiring": 0,
                                     "license.expired": 0}


# ------------------------------------------------------------------ the admin pages


def test_admin_adds_an_endpoint_and_sees_its_secret_once(app, client, auth, receiver):
    auth.login("admin")
    page = client.get("/vendor/webhooks")
    assert page.status_code == 200 and "Add endpoint" in page.get_data(as_text=True)
    answer = client.post("/vendor/webhooks", data={"url": receiver.url, "events": ["key.issued", "license.expiring"]})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    secret = html.split('<pre><code>')[1].split("</code>")[0]
    assert secret.startswith("whsec_")
    again = client.get("/vendor/webhooks").get_data(as_text=True)
    assert receiver.url in again and secret not in again
    with app.app_context():
        endpoint = webhooks.active_endpoints()[0]
        assert endpoint.events == ["key.issued", "license.expiring"]
        assert webhooks.endpoint_secret(endpoint) == secret and secret not in endpoint.secret_encrypted
    refused = client.post("/vendor/webhooks", data={"url": "gopher://x"}, headers={"HX-Request": "true"})
    fragment = refused.get_data(as_text=True)
    assert refused.status_code == 422 and fragment.lstrip().startswith('<div id="webhooks">')
    assert "only http:// and https://" in fragment
    removed = client.post(f"/vendor/webhooks/{endpoint.id}/remove")
    assert removed.status_code == 303
    assert f'id="endpoint-{endpoint.id}"' not in client.get("/vendor/webhooks").get_data(as_text=True)
    assert client.post(f"/vendor/webhooks/{endpoint.id}/remove").status_code == 404


def test_issuers_may_not_manage_webhooks(client, auth):
    auth.login("issuer")
    assert client.get("/vendor/webhooks").status_code == 403
    assert client.get("/vendor/webhooks/deliveries").status_code == 403
    assert client.post("/vendor/webhooks", data={"url": "https://hooks.example.com/"}).status_code == 403


def test_deliveries_page_lists_attempts_and_redelivers(app, cli, client, auth, receiver):
    add(cli, receiver.url, "key.issued")
    receiver.statuses = [503]
    issue(cli)
    notify(cli)
    auth.login("admin")
    html = client.get("/vendor/webhooks/deliveries").get_data(as_text=True)
    assert "key.issued" in html and "503" in html and "nope" in html and "Redeliver" in html
    with app.app_context():
        delivery = db.session.scalar(db.select(WebhookDelivery))
    answer = client.post(f"/vendor/webhooks/deliveries/{delivery.id}/redeliver", headers={"HX-Request": "true"})
    fragment = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "Redelivered: the receiver answered 204" in fragment
    assert len(receiver.requests) == 2
    with app.app_context():
        delivery = db.session.get(WebhookDelivery, delivery.id)
        assert delivery.state == DeliveryState.SUCCEEDED and delivery.attempts == 2
        last = db.session.scalars(db.select(WebhookAttempt).order_by(WebhookAttempt.id.desc())).first()
        assert last.actor and last.ok
    assert client.post("/vendor/webhooks/deliveries/999/redeliver").status_code == 404
    plain = client.post(f"/vendor/webhooks/deliveries/{delivery.id}/redeliver")
    assert plain.status_code == 303
    assert "succeeded" in client.get("/vendor/webhooks/deliveries?state=succeeded").get_data(as_text=True)


def test_needs_attention_lists_the_reminders_and_the_timeline_the_events(app, cli, client, auth, receiver):
    add(cli, receiver.url, "license.expiring")
    issue(cli, days=5)
    notify(cli)
    auth.login("issuer")
    html = client.get("/vendor/attention").get_data(as_text=True)
    section = html.split('id="reminders"')[1].split("</section>")[0]
    assert INSTALL in section and "5 day(s) left" in section and "1 of 1 delivered" in section
    with app.app_context():
        from webapp.vendor_side.models import IssuedKey

        key = db.session.scalar(db.select(IssuedKey))
    timeline = client.get(f"/vendor/keys/{key.id}").get_data(as_text=True)
    assert "Reminder: license expiring" in timeline and "license.expiring, 5 day(s) left" in timeline
    assert "Event: key issued" in timeline


def test_the_demo_makes_a_code_end_in_5_days_and_needs_attention_shows_the_reminder(app, client, auth):
    from webapp.vendor_side.issuing import issue_from_code

    with app.app_context():
        issue_from_code(READY, INSTALL, actor="setup")
    auth.login("issuer")
    played = client.post("/vendor/demo-codes/action", data={"code": READY, "action": "soon"},
                         headers={"HX-Request": "true"})
    assert played.status_code == 200 and "now ends on" in played.get_data(as_text=True)
    assert client.post("/vendor/attention/check").status_code == 303  # re-read: terms changed
    with app.app_context():
        from webapp.vendor_side.models import CodeBinding

        binding = db.session.scalar(db.select(CodeBinding))
    assert client.post(f"/vendor/attention/{binding.id}/issue").status_code == 303  # the 5-day key
    answer = client.post("/vendor/attention/reminders", headers={"HX-Request": "true"})
    html = answer.get_data(as_text=True)
    assert "Recorded 1 event due now" in html
    section = html.split('id="reminders"')[1].split("</section>")[0]
    assert INSTALL in section and "5 day(s) left" in section and "no endpoint" in section
    again = client.post("/vendor/attention/reminders", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Recorded 0 events due now." in again


# ------------------------------------------------------------------ DNS pinning, runners at once


def test_the_connection_goes_to_the_checked_address_with_the_name_kept(app, cli, receiver, monkeypatch):
    port = int(receiver.url.rsplit(":", 1)[1].split("/")[0])
    asked = []

    def fake_getaddrinfo(host, *args, **kwargs):
        asked.append(host)
        return [(2, 1, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(webhooks.socket, "getaddrinfo", fake_getaddrinfo)
    answer = webhooks.post(f"http://hooks.internal.test:{port}/hooks", b"{}", {"webhook-id": "msg_x"},
                           timeout=3, allow_private=True)
    # the name is resolved once, by the check; the connection is made to the checked address
    assert answer.ok and asked == ["hooks.internal.test", "127.0.0.1"]
    assert receiver.requests[0]["headers"]["host"] == f"hooks.internal.test:{port}"
    refused = webhooks.post(f"http://hooks.internal.test:{port}/hooks", b"{}", {}, timeout=3, allow_private=False)
    assert not refused.ok and "127.0.0.1" in refused.error and len(receiver.requests) == 1


def test_two_runners_at_once_send_each_message_once(app, cli, receiver):
    add(cli, receiver.url, "key.issued")
    for n in range(6):
        result = cli.invoke(args=["license", "issue", "--install-id", f"{n:032x}", "--aku", "4", "--days", "90",
                                  "--contract", f"CT-{n}"])
        assert result.exit_code == 0, result.stderr
    errors = []

    def runner():
        try:
            with app.app_context():
                webhooks.run()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=runner) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    ids = [r["headers"]["webhook-id"] for r in receiver.requests]
    assert len(ids) == 6 and len(set(ids)) == 6
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(WebhookAttempt)) == 6


def test_an_unreadable_secret_is_not_sent_unsigned(app, cli, receiver):
    add(cli, receiver.url, "key.issued")
    issue(cli)
    app.config["LICENSE_DATA_KEY"] = "another data key"
    assert notify(cli)["deliveries"]["retrying"] == 1
    assert receiver.requests == []
    with app.app_context():
        assert "LICENSE_DATA_KEY" in db.session.scalar(db.select(WebhookAttempt)).error


def _certificate(tmp_path, name: str):
    """A self-signed certificate for `name` (its own CA): (cert file, key file)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


def test_https_to_the_pinned_address_keeps_sni_and_the_certificate_check(tmp_path, monkeypatch):
    import ssl

    cert, key = _certificate(tmp_path, "hooks.internal.test")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    seen = []
    server_names = []
    context.sni_callback = lambda sock, name, ctx: server_names.append(name)

    @Request.application
    def app(request):
        seen.append(request.headers.get("Host"))
        return Response("", status=204)

    server = make_server("127.0.0.1", 0, app, ssl_context=context)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_port
    real = webhooks.socket.getaddrinfo
    monkeypatch.setattr(webhooks.socket, "getaddrinfo",
                        lambda host, *a, **k: [(2, 1, 6, "", ("127.0.0.1", port))] if host.endswith(".test")
                        else real(host, *a, **k))
    try:
        answer = webhooks.post(f"https://hooks.internal.test:{port}/in", b"{}", {}, timeout=3,
                               allow_private=True, verify=cert)
        assert answer.ok, answer.error
        assert seen == [f"hooks.internal.test:{port}"] and server_names == ["hooks.internal.test"]
        other = webhooks.post(f"https://other.internal.test:{port}/in", b"{}", {}, timeout=3,
                              allow_private=True, verify=cert)  # the certificate names another host
        assert not other.ok and other.error.startswith("TLS")
    finally:
        server.shutdown()
        server.server_close()


def test_a_run_starts_no_attempt_past_its_budget(app, cli, receiver):
    add(cli, receiver.url, "key.issued")
    issue(cli)
    with app.app_context():
        assert webhooks.deliver_due(budget=-1) == {"succeeded": 0, "retrying": 0, "failed": 0, "skipped": 0,
                                                   "left": 1}
        assert webhooks.deliver_due()["succeeded"] == 1


def test_a_wrong_remind_days_is_said_not_crashed(app, cli, client, auth):
    app.config["LICENSE_REMIND_DAYS"] = "30,soon"
    result = cli.invoke(args=["license", "notify"])
    assert result.exit_code == 2 and "LICENSE_REMIND_DAYS" in result.stderr and result.stdout == ""
    auth.login("issuer")
    answer = client.post("/vendor/attention/reminders", headers={"HX-Request": "true"})
    assert answer.status_code == 422 and "LICENSE_REMIND_DAYS" in answer.get_data(as_text=True)


def test_a_receiver_too_slow_is_a_timeout_and_retried(app, cli, receiver):
    app.config["LICENSE_WEBHOOK_TIMEOUT"] = 0.3
    receiver.delay = 1.0
    add(cli, receiver.url, "key.issued")
    issue(cli)
    assert notify(cli)["deliveries"]["retrying"] == 1
    with app.app_context():
        attempt = db.session.scalar(db.select(WebhookAttempt))
        assert attempt.error == "timed out" and not attempt.ok and attempt.duration_ms < 1000
