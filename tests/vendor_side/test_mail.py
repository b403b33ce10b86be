"""Issue 14, e-mail: reminders to the seller's team and to buyers who consented, the daily digest,
sent once and retried, with a real SMTP server (aiosmtpd) on loopback."""
from __future__ import annotations

import json
import smtplib
import socket
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from webapp import mailer
from webapp.database import db
from webapp.vendor_side import mail
from webapp.vendor_side.models import BuyerContact, MailMessage, MailState

INSTALL = "a1d3d4e6bf28c50c4c73dc77de53a6b9"
TEAM = "licenses@seller.example"
BUYER = "ops.lead@buyer.example"


# ------------------------------------------------------------------ an SMTP server on loopback


class Inbox:
    """aiosmtpd's handler: keeps each message it accepted; `refuse` answers RCPT with a code."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.refuse: int | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse:
            return f"{self.refuse} not now" if self.refuse < 500 else f"{self.refuse} no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                              "message": message_from_bytes(envelope.original_content or envelope.content,
                                                            policy=policy.default)})
        return "250 Message accepted"


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"mailer" and auth_data.password == b"s3cret"
    return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535 itself


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Smtp:
    """aiosmtpd's server in a thread; `stop()` then `start()` brings it back on the same port."""

    def __init__(self, *, auth: bool = False) -> None:
        self.inbox = Inbox()
        self.port = _free_port()
        self.options = ({"authenticator": _authenticator, "auth_require_tls": False, "auth_exclude_mechanism": ["LOGIN"]}
                        if auth else {})
        self.running = False

    def start(self) -> "Smtp":
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **self.options)
        self.controller.start()
        self.running = True
        return self

    def stop(self) -> None:
        if self.running:
            self.controller.stop()
            self.running = False

    @property
    def messages(self):
        return self.inbox.messages


@pytest.fixture
def smtp():
    server = Smtp().start()
    yield server
    server.stop()


@pytest.fixture
def app_config(smtp):
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp.port, "MAIL_DEFAULT_SENDER": "Licenses <noreply@seller.example>",
            "LICENSE_NOTIFY_EMAIL": f"Team <{TEAM}>", "LICENSE_MAIL_TIMEOUT": 3.0, "LICENSE_DIGEST_HOUR": 24,
            "LICENSE_EXTERNAL_URL": "https://licenses.seller.example", "LICENSE_WEBHOOK_ALLOW_PRIVATE": True}


@pytest.fixture
def cli(app):
    return app.test_cli_runner()


def issue(cli, days: int = 5, *extra: str, install: str = INSTALL) -> None:
    result = cli.invoke(args=["license", "issue", "--install-id", install, "--aku", "40", "--days", str(days),
                              "--contract", "CT-MAIL", "--reason", "mail test", *extra])
    assert result.exit_code == 0, result.stderr


def notify(cli) -> dict:
    result = cli.invoke(args=["license", "notify"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def parts(message) -> tuple[str, str]:
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    return text, html


def subject(message) -> str:
    """The Subject unfolded (Python folds a long one right after `Subject:`, leaving a space)."""
    return message["Subject"].strip()


def reminders(smtp, to: str):
    return [m for m in smtp.messages if to in m["to"]]


# ------------------------------------------------------------------ pure parts


def test_addresses_are_read_checked_and_masked():
    assert mailer.parse_addresses("Team <a@x.example>, b@y.example, not-an-address, a@x.example") == [
        "a@x.example", "b@y.example"]
    assert mailer.parse_addresses(None) == []
    for bad in ("", "a", "a@b", "a b@c.example", "a@c.example\r\nBcc: evil@x.example", "<a@c.example>", "a@@c.example"):
        assert not mailer.valid_address(bad), bad
    assert mailer.valid_address("first.last+tag@sub.example.cn")
    assert mailer.mask_address("ops.lead@buyer.example") == "o***@buyer.example"


def test_a_line_break_cannot_add_a_header():
    with pytest.raises(ValueError):
        mailer.build_message(sender="a@x.example", to=["b@y.example"], subject="hi\r\nBcc: c@z.example", text="t",
                             html=None, message_id="<1@x.example>", date=datetime.now(timezone.utc))


def test_failures_are_sorted_into_retry_and_give_up():
    assert mailer.classify(ConnectionRefusedError())[0] is True
    assert mailer.classify(TimeoutError())[0] is True
    assert mailer.classify(smtplib.SMTPRecipientsRefused({"a@x.example": (450, b"busy")})) == (True, "recipients refused: 450")
    assert mailer.classify(smtplib.SMTPRecipientsRefused({"a@x.example": (550, b"no")}))[0] is False
    assert mailer.classify(smtplib.SMTPAuthenticationError(535, b"bad"))[0] is False
    assert mailer.classify(smtplib.SMTPDataError(451, b"later"))[0] is True
    assert mailer.classify(smtplib.SMTPDataError(554, b"spam"))[0] is False


def test_schedule_retries_for_more_than_a_day_then_gives_up():
    given = [d for d in (mail.next_delay(n) for n in range(1, 20)) if d is not None]
    assert sum(given) > 24 * 3600 and mail.next_delay(len(given) + 1) is None and mail.next_delay(0) is None


def test_settings_are_checked(app):
    with pytest.raises(mailer.MailNotConfigured, match="MAIL_DEFAULT_SENDER"):
        mailer.SmtpSettings.from_config({"MAIL_SERVER": "smtp.example"})
    with pytest.raises(mailer.MailNotConfigured, match="both"):
        mailer.SmtpSettings.from_config({"MAIL_SERVER": "s", "MAIL_DEFAULT_SENDER": "a@x.example",
                                         "MAIL_USE_TLS": True, "MAIL_USE_SSL": True})


# ------------------------------------------------------------------ end to end, on loopback


def test_team_reminder_arrives_with_text_and_html_and_is_sent_once(app, cli, smtp):
    issue(cli, days=5)
    first = notify(cli)
    assert first["mail"]["enabled"] is True
    assert first["mail"]["sent"] >= 1
    team = [m for m in reminders(smtp, TEAM) if "ends in" in subject(m["message"])]
    assert len(team) == 1
    message = team[0]["message"]
    assert subject(message) == f"[Licenses] {INSTALL}: the license ends in 5 days"
    assert message["From"] == "Licenses <noreply@seller.example>"
    assert message["To"] == TEAM
    assert message["Message-ID"].endswith("@seller.example>")
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Content-Language"] == "en"
    text, html = parts(message)
    assert INSTALL in text and "40" in text and "5 days from now" in text
    assert "https://licenses.seller.example/vendor/keys/" in text
    assert '<a href="https://licenses.seller.example/vendor/keys/' in html and "<table" in html
    with app.app_context():
        from webapp.vendor_side.models import IssuedKey

        key = db.session.scalar(db.select(IssuedKey))
        assert key.product_key not in text and key.product_key not in html
    # a second run sends nothing twice
    count = len(smtp.messages)
    again = notify(cli)
    assert again["mail"]["sent"] == 0 and len(smtp.messages) == count


def test_buyer_gets_the_expiring_reminder_in_their_language_only_with_consent(app, cli, smtp):
    result = cli.invoke(args=["license", "issue", "--install-id", INSTALL, "--aku", "40", "--days", "5",
                              "--contract", "CT-MAIL", "--buyer-email", BUYER])
    assert result.exit_code == 2 and "--buyer-consented" in result.stderr  # no consent, nothing recorded
    issue(cli, 5, "--buyer-email", BUYER, "--buyer-consented", "--buyer-language", "zh_Hans_CN")
    with app.app_context():
        contact = db.session.scalar(db.select(BuyerContact))
        assert contact.install_id == INSTALL and contact.locale == "zh_Hans_CN"
        assert BUYER not in contact.email_encrypted and contact.email_hint == "o***@buyer.example"
    notify(cli)
    to_buyer = reminders(smtp, BUYER)
    assert len(to_buyer) == 1
    message = to_buyer[0]["message"]
    assert message["To"] == BUYER and TEAM not in message["To"]
    assert message["Content-Language"] == "zh-Hans"
    text, html = parts(message)
    assert INSTALL in text
    assert subject(message).startswith("您的") and "天后到期" in subject(message)  # written in Chinese
    assert "更新产品许可证" in text and "2. 重新激活" in text and "重新激活" in html
    assert "seller.example/vendor" not in text  # no staff links for buyers
    notify(cli)
    assert len(reminders(smtp, BUYER)) == 1


def test_a_removed_buyer_address_gets_nothing(app, cli, smtp):
    smtp.stop()  # the reminders are written but cannot go out yet
    issue(cli, 5, "--buyer-email", BUYER, "--buyer-consented")
    summary = notify(cli)
    assert summary["mail"]["retrying"] == 2
    with app.app_context():
        assert mail.remove_contact(INSTALL, actor="test") is not None
        db.session.query(MailMessage).update({"next_attempt_at": datetime.now(timezone.utc) - timedelta(seconds=1)})
        db.session.commit()
    smtp.start()
    summary = notify(cli)
    assert summary["mail"]["dropped"] == 1 and summary["mail"]["sent"] == 1
    assert reminders(smtp, BUYER) == [] and len(reminders(smtp, TEAM)) == 1
    with app.app_context():
        dropped = db.session.scalar(db.select(MailMessage).where(MailMessage.recipient == "buyer"))
        assert dropped.state == MailState.DROPPED and "removed" in dropped.last_error


def test_smtp_down_is_retried_then_sent(app, cli, smtp):
    smtp.stop()
    issue(cli, days=5)
    first = notify(cli)
    assert first["mail"]["retrying"] == 1 and first["mail"]["sent"] == 0
    with app.app_context():
        waiting = db.session.scalar(db.select(MailMessage))
        assert waiting.state == MailState.PENDING and waiting.attempts == 1
        assert waiting.last_error == "connection refused"
        assert waiting.next_attempt_at > datetime.now(timezone.utc)
    assert notify(cli)["mail"]["sent"] == 0  # not due yet
    with app.app_context():
        db.session.query(MailMessage).update({"next_attempt_at": datetime.now(timezone.utc) - timedelta(seconds=1)})
        db.session.commit()
    smtp.start()
    assert notify(cli)["mail"]["sent"] == 1
    assert len(reminders(smtp, TEAM)) == 1
    with app.app_context():
        sent = db.session.scalar(db.select(MailMessage))
        assert sent.state == MailState.SENT and sent.attempts == 2 and sent.last_error is None


def test_a_permanent_refusal_fails_at_once(app, cli, smtp):
    smtp.inbox.refuse = 550
    issue(cli, days=5)
    assert notify(cli)["mail"]["failed"] == 1
    with app.app_context():
        failed = db.session.scalar(db.select(MailMessage))
        assert failed.state == MailState.FAILED and failed.last_error == "recipients refused: 550"


def test_the_digest_lists_what_needs_attention_once_a_day(app, cli, smtp):
    app.config["LICENSE_DIGEST_HOUR"] = 0
    issue(cli, days=20)
    notify(cli)
    digests = [m for m in smtp.messages if "need" in subject(m["message"])]
    assert len(digests) == 1
    message = digests[0]["message"]
    assert subject(message) == "[Licenses] 1 item needs attention"
    text, html = parts(message)
    assert "Licenses ending within 30 days" in text and INSTALL in text
    assert "https://licenses.seller.example/vendor/attention" in text
    notify(cli)
    assert len([m for m in smtp.messages if "need" in subject(m["message"])]) == 1


def test_no_digest_before_its_hour_or_when_nothing_needs_attention(app, cli, smtp):
    app.config["LICENSE_DIGEST_HOUR"] = 0
    issue(cli, days=200)
    notify(cli)
    assert smtp.messages == []  # nothing ends soon: no digest, no reminder
    app.config["LICENSE_DIGEST_HOUR"] = 24  # never reached
    issue(cli, days=3, install="b" * 32)
    notify(cli)
    assert [subject(m["message"]) for m in smtp.messages] == [f"[Licenses] {'b' * 32}: the license ends in 3 days"]


def test_login_with_username_and_password():
    server = Smtp(auth=True).start()
    try:
        settings = mailer.SmtpSettings.from_config({"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": server.port, "LICENSE_MAIL_TIMEOUT": 3,
                                                    "MAIL_DEFAULT_SENDER": "a@x.example", "MAIL_USERNAME": "mailer",
                                                    "MAIL_PASSWORD": "s3cret"})
        built = mailer.build_message(sender="a@x.example", to=["b@y.example"], subject="hi", text="t", html="<p>t</p>",
                                     message_id="<1@x.example>", date=datetime.now(timezone.utc))
        with mailer.Connection(settings) as connection:
            connection.send(built)
        assert len(server.messages) == 1
        wrong = settings.__class__(**{**settings.__dict__, "password": "nope"})
        with pytest.raises(smtplib.SMTPAuthenticationError) as caught, mailer.Connection(wrong) as connection:
            connection.send(built)
        assert mailer.classify(caught.value)[0] is False
    finally:
        server.stop()


def test_mail_test_command(app, cli, smtp):
    result = cli.invoke(args=["license", "mail-test", "someone@seller.example"])
    assert result.exit_code == 0, result.stderr
    assert smtp.messages[-1]["message"]["Subject"] == "[Licenses] Test message"
    smtp.stop()
    result = cli.invoke(args=["license", "mail-test", "someone@seller.example"])
    assert result.exit_code == 1 and "connection refused" in result.stderr
    assert cli.invoke(args=["license", "mail-test", "nobody"]).exit_code == 2


def test_without_mail_server_nothing_is_written(app, cli):
    app.config["MAIL_SERVER"] = None
    issue(cli, days=5)
    summary = notify(cli)
    assert summary["mail"] == {"enabled": False}
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(MailMessage)) == 0


# ------------------------------------------------------------------ the pages

READY = "DEMO-AKU20-READY-7K3Q"  # a demo code of the in-process simulator


def test_staff_record_the_buyer_email_at_issuing_only_with_consent(app, client, auth):
    auth.login("issuer")
    form = {"code": READY, "install_id": INSTALL, "buyer_email": BUYER, "buyer_language": "zh_Hans_CN"}
    refused = client.post("/vendor/issue", data=form, headers={"HX-Request": "true"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and 'id="buyer_email-error"' in html and "agreed" in html
    assert f'value="{BUYER}"' in html  # what was typed stays
    bad = client.post("/vendor/issue", data={**form, "buyer_email": "nobody", "buyer_consent": "1"},
                      headers={"HX-Request": "true"})
    assert bad.status_code == 422 and "is not an e-mail address" in bad.get_data(as_text=True)
    with app.app_context():
        from webapp.vendor_side.models import IssuedKey

        assert db.session.scalar(db.select(db.func.count()).select_from(IssuedKey)) == 0  # nothing issued
    issued = client.post("/vendor/issue", data={**form, "buyer_consent": "1"})
    assert issued.status_code == 303
    page = client.get(issued.headers["Location"]).get_data(as_text=True)
    section = page.split('id="buyer-contact"')[1].split("</section>")[0]
    assert "o***@buyer.example" in section and "中文" in section and BUYER not in page
    with app.app_context():
        contact = db.session.scalar(db.select(BuyerContact))
        assert contact.locale == "zh_Hans_CN" and contact.consent_recorded_by
        from webapp.models.audit import AuditEvent

        recorded = db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "buyer_contact_recorded"))
        assert recorded is not None and BUYER not in str(recorded.after)
    key_path = issued.headers["Location"]
    removed = client.post(key_path + "/buyer-contact/remove", headers={"HX-Request": "true"})
    assert removed.status_code == 200 and "no more reminders" in removed.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(BuyerContact)) is None


def test_the_email_page_lists_messages_and_sends_one_again(app, cli, client, auth, smtp):
    smtp.stop()
    issue(cli, days=5)
    notify(cli)
    auth.login("issuer")
    assert client.get("/vendor/mail").status_code == 403  # admins only
    auth.logout()
    auth.login("admin")
    html = client.get("/vendor/mail").get_data(as_text=True)
    assert "license.expiring" in html and "connection refused" in html and "127.0.0.1" in html
    with app.app_context():
        message = db.session.scalar(db.select(MailMessage))
    smtp.start()
    answer = client.post(f"/vendor/mail/{message.id}/send", headers={"HX-Request": "true"})
    assert answer.status_code == 200 and "the SMTP server accepted it" in answer.get_data(as_text=True)
    assert len(reminders(smtp, TEAM)) == 1
    assert client.post("/vendor/mail/999/send").status_code == 404
    assert client.post("/vendor/mail/abc/send").status_code == 404
    sent = client.get("/vendor/mail?state=sent").get_data(as_text=True)
    assert f'id="mail-{message.id}"' in sent
    attention = client.get("/vendor/attention").get_data(as_text=True)
    assert "1 of 1 sent" in attention.split('id="reminders"')[1].split("</section>")[0]


def test_a_reminder_whose_key_was_replaced_is_dropped(app, cli, smtp):
    smtp.stop()
    issue(cli, days=5)
    notify(cli)  # written, not sent
    issue(cli, days=365)  # the renewal's key replaces it before the next run
    with app.app_context():
        db.session.query(MailMessage).update({"next_attempt_at": datetime.now(timezone.utc) - timedelta(seconds=1)})
        db.session.commit()
    smtp.start()
    assert notify(cli)["mail"]["dropped"] == 1
    assert smtp.messages == []
    with app.app_context():
        assert db.session.scalar(db.select(MailMessage)).last_error == "a newer key was issued since"


def test_a_message_that_cannot_be_written_does_not_stop_the_others(app, cli, smtp, monkeypatch):
    issue(cli, days=5)
    issue(cli, days=3, install="c" * 32)
    real = mail.compose
    calls = []

    def compose(message):
        calls.append(message.id)
        if len(calls) == 1:
            raise KeyError("broken template")
        return real(message)

    monkeypatch.setattr(mail, "compose", compose)
    summary = notify(cli)["mail"]
    assert summary["retrying"] == 1 and summary["sent"] == 1
    with app.app_context():
        broken = db.session.get(MailMessage, calls[0])
        assert broken.state == MailState.PENDING and broken.last_error == "could not be written (KeyError)"
