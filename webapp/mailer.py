"""Sending e-mail over SMTP with Flask-Mail's settings (`MAIL_SERVER`, `MAIL_PORT`, `MAIL_USE_TLS`,
`MAIL_USE_SSL`, `MAIL_USERNAME`, `MAIL_PASSWORD`, `MAIL_DEFAULT_SENDER`), with the standard
library's `smtplib` and `email`: one connection for a run's messages, a timeout on every step
(`LICENSE_MAIL_TIMEOUT`), certificates verified with the system's trust store.

Pure parts for the tests: `build_message` (text and HTML parts, headers safe against injected
line breaks), `parse_addresses`, `valid_address`, `mask_address` and `classify` (whether an SMTP
failure is worth another attempt).
"""
from __future__ import annotations

import re
import smtplib
import socket
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid

#: What an address may look like: one @, no spaces or line breaks, a dot in the domain.
_ADDRESS = re.compile(r"^[^@\s<>(),;:\"\[\]\\]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z0-9-]{2,63}$")


class MailNotConfigured(RuntimeError):
    """`str(exc)` names the missing setting (English: the CLI, the logs)."""


@dataclass(frozen=True)
class SmtpSettings:
    server: str
    port: int
    use_tls: bool
    use_ssl: bool
    username: str | None
    password: str | None
    sender: str
    timeout: float

    @classmethod
    def from_config(cls, config) -> "SmtpSettings":
        if not config.get("MAIL_SERVER"):
            raise MailNotConfigured("MAIL_SERVER is not set: no e-mail is sent")
        if not config.get("MAIL_DEFAULT_SENDER"):
            raise MailNotConfigured("MAIL_DEFAULT_SENDER is not set: e-mail needs a From address")
        if config.get("MAIL_USE_TLS") and config.get("MAIL_USE_SSL"):
            raise MailNotConfigured("MAIL_USE_TLS and MAIL_USE_SSL are both on: choose one (465: SSL; 587: TLS)")
        return cls(server=config["MAIL_SERVER"], port=int(config.get("MAIL_PORT") or 25),
                   use_tls=bool(config.get("MAIL_USE_TLS")), use_ssl=bool(config.get("MAIL_USE_SSL")),
                   username=config.get("MAIL_USERNAME") or None, password=config.get("MAIL_PASSWORD") or None,
                   sender=str(config["MAIL_DEFAULT_SENDER"]), timeout=float(config.get("LICENSE_MAIL_TIMEOUT") or 10))


def mail_enabled(config) -> bool:
    return bool(config.get("MAIL_SERVER") and config.get("MAIL_DEFAULT_SENDER"))


# ------------------------------------------------------------------ pure parts


def valid_address(value: str | None) -> bool:
    return bool(value) and len(value) <= 254 and _ADDRESS.match(value) is not None


def parse_addresses(value: str | None) -> list[str]:
    """`LICENSE_NOTIFY_EMAIL` ("a@example.com, Team <b@example.com>") as bare addresses; those that
    are not addresses are left out."""
    found = []
    for _name, address in getaddresses([value or ""]):
        if valid_address(address) and address not in found:
            found.append(address)
    return found


def mask_address(address: str) -> str:
    """`b***@example.com`: enough for staff to recognise it, not enough to copy."""
    local, _, domain = address.partition("@")
    return (local[:1] + "***@" + domain)[:64]


def build_message(*, sender: str, to: list[str], subject: str, text: str, html: str | None, message_id: str,
                  date: datetime, language: str | None = None, headers: dict[str, str] | None = None) -> EmailMessage:
    """A message with a plain-text part and, when given, an HTML alternative. A line break in the
    subject or an address cannot add a header: `email` refuses it (ValueError)."""
    for value in (subject, *to):
        if "\n" in value or "\r" in value:
            raise ValueError("a line break in a header")
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    if language:  # after the content: setting it clears the Content-* headers
        message["Content-Language"] = language
    return message


def new_message_id(sender: str) -> str:
    """`<...@domain-of-the-sender>`, without looking up this machine's name."""
    domain = sender.rpartition("@")[2].strip(" >") or "localhost"
    return make_msgid(domain=domain)


def classify(exc: BaseException) -> tuple[bool, str]:
    """`(retry, why)` for a failed send: a permanent refusal (5xx, a bad address, a failed login)
    is not tried again; a timeout, a refused connection or a 4xx is."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in exc.recipients.values()]
        return any(400 <= c < 500 for c in codes), "recipients refused: " + ", ".join(
            f"{code}" for code in codes)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return False, f"login refused ({exc.smtp_code})"
    if isinstance(exc, (smtplib.SMTPSenderRefused, smtplib.SMTPDataError, smtplib.SMTPHeloError)):
        code = exc.smtp_code
        return not 500 <= code < 600, f"the server answered {code}"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return False, "the server does not support this (STARTTLS or login)"
    if isinstance(exc, ssl.SSLError):
        return True, "TLS: the certificate did not verify" if isinstance(exc, ssl.SSLCertVerificationError) else "TLS failed"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return True, "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return True, "connection refused"
    if isinstance(exc, (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError)):
        return True, "the server closed the connection"
    if isinstance(exc, (OSError, smtplib.SMTPException)):
        return True, f"{type(exc).__name__}"
    return False, f"{type(exc).__name__}"


# ------------------------------------------------------------------ the connection


class Connection:
    """One SMTP session for a run's messages: `with Connection(settings) as smtp: smtp.send(msg)`.
    Connecting (and STARTTLS and login) happens at the first send, so a run with nothing to send
    never connects."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def _open(self) -> smtplib.SMTP:
        s = self.settings
        context = ssl.create_default_context()
        if s.use_ssl:
            smtp = smtplib.SMTP_SSL(s.server, s.port, timeout=s.timeout, context=context)
        else:
            smtp = smtplib.SMTP(s.server, s.port, timeout=s.timeout)
        try:
            smtp.ehlo()
            if s.use_tls:
                smtp.starttls(context=context)
                smtp.ehlo()
            if s.username:
                smtp.login(s.username, s.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, message: EmailMessage) -> None:
        if self._smtp is None:
            self._smtp = self._open()
        try:
            self._smtp.send_message(message)
        except smtplib.SMTPServerDisconnected:
            self.close()  # the next message connects again
            raise
        except smtplib.SMTPException:  # a refusal of this message: the session goes on
            raise
        except OSError:  # the connection broke (SMTPException is an OSError too, hence the order)
            self.close()
            raise

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def sender_address(sender: str) -> str:
    """`Licenses <licenses@example.com>` → `licenses@example.com`."""
    found = getaddresses([sender])
    return found[0][1] if found else sender
