"""Webhooks signed as Standard Webhooks specifies (https://www.standardwebhooks.com/), and
`flask license notify`'s work (issue 14).

Each delivery is a POST of `{"type": ..., "timestamp": ..., "data": {...}}` with the headers
`webhook-id` (the delivery's `msg_...`, the same on every attempt), `webhook-timestamp` (the
attempt's Unix time) and `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`,
keyed with the base64-decoded part of the endpoint's `whsec_...` secret: any Standard Webhooks
library verifies it.

Failed attempts (timeout, non-2xx, refused connection) are tried again after `SCHEDULE`
(5 s, 5 min, 30 min, 2 h, 5 h, then 10 h three times: 37.6 hours in all, 9 attempts), then
the delivery is `failed`. Redirects are never followed.

Addresses: only `http` and `https` URLs. Unless `LICENSE_WEBHOOK_ALLOW_PRIVATE` (on in the
demo), an endpoint whose host is or resolves to a loopback, private, link-local or otherwise
non-public address is refused: else whoever may add an endpoint could make the vendor side call
its own network (metadata services, databases' HTTP ports). The host name is resolved at each
attempt, every address it resolves to is checked, and the connection goes to the checked address
(TLS still verifies the name), so a DNS answer that changes between the check and the connection
(DNS rebinding) cannot slip a private address in.

Runners: `run()` claims each due delivery with a conditional UPDATE (state pending, due, the
attempt count it read): two runners on two servers never deliver the same attempt, and a runner
that dies holding a claim leaves it due again after `LEASE`.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import os
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import requests
from flask import current_app
from requests.adapters import HTTPAdapter
from sqlalchemy import update

from .. import audit, clock, product_key
from ..database import db
from ..datakey import DataKeyError, data_key
from ..i18n import N_, Refusal
from . import events, outbox
from .models import DeliveryState, Event, WebhookAttempt, WebhookDelivery, WebhookEndpoint

#: Seconds to wait after the n-th failed attempt (index n - 1); past the end: failed.
SCHEDULE = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600, 10 * 3600)
#: How long a runner's claim on a delivery holds before another runner may take it.
LEASE = timedelta(minutes=5)
#: At most this many deliveries per run, and no new attempt started after BUDGET seconds (the next
#: run, a minute later, sends the rest), so that one run ends well within a scheduler's minute.
BATCH = 200
BUDGET = 45.0
RESPONSE_KEPT = 1000  # characters of the receiver's answer kept with each attempt
SECRET_PREFIX = "whsec_"


class EndpointRefused(Refusal):
    """A URL that may not be an endpoint, or a host whose addresses may not be called. `str(exc)`
    is English (recorded with an attempt, said by the CLI); `exc.text()` is in the page's language."""


# ------------------------------------------------------------------ pure parts


def next_delay(failed_attempts: int) -> int | None:
    """Seconds before the next attempt after `failed_attempts` failures; None: give up."""
    return outbox.next_delay(SCHEDULE, failed_attempts)


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(os.urandom(32)).decode("ascii")


def _secret_bytes(secret: str) -> bytes:
    if secret.startswith(SECRET_PREFIX):
        secret = secret[len(SECRET_PREFIX):]
    return base64.b64decode(secret)


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`webhook-signature`'s value: `v1,` and the base64 HMAC-SHA256 of "id.timestamp.body"."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "user-agent": "license-platform-webhooks/1",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
    }


def payload(event: Event) -> bytes:
    """The body: the same bytes on every attempt."""
    document = {"type": event.type, "timestamp": product_key.format_time(event.occurred_at), "data": event.data}
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def address_allowed(address: str, allow_private: bool) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_multicast or ip.is_unspecified:
        return False
    return allow_private or ip.is_global


def check_url(url: str, allow_private: bool) -> tuple[str, str, int]:
    """`(scheme, host, port)` of an endpoint URL, or EndpointRefused saying why not. A host given as
    an address (or `localhost`) is checked here; a name is resolved and checked at each attempt."""
    url = (url or "").strip()
    if len(url) > 2048:
        raise EndpointRefused(N_("the URL is longer than 2048 characters"))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise EndpointRefused(N_("that is not a URL")) from None
    if parts.scheme not in ("http", "https"):
        raise EndpointRefused(N_("only http:// and https:// URLs can receive webhooks"))
    host = parts.hostname
    if not host:
        raise EndpointRefused(N_("the URL has no host"))
    if parts.username or parts.password:
        raise EndpointRefused(N_("the URL may not hold a user name or password"))
    port = port or (443 if parts.scheme == "https" else 80)
    literal = None
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        pass
    private = N_("loopback or private addresses are refused (LICENSE_WEBHOOK_ALLOW_PRIVATE=1 allows them)")
    if literal is not None and not address_allowed(str(literal), allow_private):
        raise EndpointRefused(private if not (literal.is_multicast or literal.is_unspecified)
                              else N_("that address cannot receive webhooks"))
    if literal is None and not allow_private and (host == "localhost" or host.endswith(".localhost")):
        raise EndpointRefused(private)
    return parts.scheme, host, port


def resolve(host: str, port: int, allow_private: bool) -> str:
    """The address to connect to: the first the host resolves to, once every one is checked."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise EndpointRefused(N_("the host name did not resolve (%(reason)s)"),
                              reason=exc.strerror or exc) from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise EndpointRefused(N_("the host name did not resolve"))
    refused = [a for a in addresses if not address_allowed(a, allow_private)]
    if refused:
        raise EndpointRefused(N_("%(host)s resolves to %(address)s: loopback or private addresses are refused "
                                 "(LICENSE_WEBHOOK_ALLOW_PRIVATE=1 allows them)"), host=host, address=refused[0])
    return addresses[0]


class _PinnedAdapter(HTTPAdapter):
    """Connects to the checked address; the Host header, SNI and certificate stay the URL's host."""

    def __init__(self, address: str) -> None:
        self._address = address
        super().__init__(max_retries=0)

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        hostname = host_params["host"]
        host_params = dict(host_params, host=self._address)
        if host_params["scheme"] == "https":
            pool_kwargs["server_hostname"] = hostname
            pool_kwargs["assert_hostname"] = hostname
        return host_params, pool_kwargs


@dataclass
class Answer:
    ok: bool
    status_code: int | None = None
    response: str | None = None
    error: str | None = None
    duration_ms: int = 0


def post(url: str, body: bytes, sent_headers: dict, *, timeout: float, allow_private: bool,
         verify: bool | str = True) -> Answer:
    """One attempt: POST, no redirects, no proxies from the environment; 2xx is success.
    `verify`: the CA bundle for https (the system's; tests pass their own)."""
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        _, host, port = check_url(url, allow_private)
        address = resolve(host, port, allow_private)
    except EndpointRefused as exc:
        return Answer(False, error=f"refused: {exc}"[:255], duration_ms=took())
    # the pool connects to `address`: the Host header says the URL's host (as written, port and all)
    sent_headers = {**sent_headers, "Host": urlsplit(url.strip()).netloc}
    session = requests.Session()
    session.trust_env = False  # no proxy or .netrc of the environment
    adapter = _PinnedAdapter(address)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    try:
        with session.post(url, data=body, headers=sent_headers, timeout=(min(timeout, 5.0), timeout),
                          allow_redirects=False, stream=True, verify=verify) as response:
            text = response.raw.read(RESPONSE_KEPT * 4, decode_content=True).decode("utf-8", "replace")
            ok = 200 <= response.status_code < 300
            return Answer(ok, response.status_code, text[:RESPONSE_KEPT],
                          None if ok else f"HTTP {response.status_code}", took())
    except requests.Timeout:
        return Answer(False, error="timed out", duration_ms=took())
    except requests.exceptions.SSLError:
        return Answer(False, error="TLS: the certificate did not verify", duration_ms=took())
    except requests.ConnectionError as exc:
        reason = "connection refused" if "refused" in str(exc).lower() else "could not connect"
        return Answer(False, error=reason, duration_ms=took())
    except requests.RequestException as exc:
        return Answer(False, error=f"{type(exc).__name__}"[:255], duration_ms=took())
    finally:
        session.close()


# ------------------------------------------------------------------ endpoints


def _allow_private() -> bool:
    return bool(current_app.config["LICENSE_WEBHOOK_ALLOW_PRIVATE"])


def _data_key():
    return data_key(current_app.config["LICENSE_DATA_KEY"])


def endpoint_secret(endpoint: WebhookEndpoint) -> str:
    return _data_key().decrypt(endpoint.secret_encrypted)


def read_events(names) -> list[str] | None:
    """The event types an endpoint asks for; None (or nothing): all of them."""
    chosen = [n.strip() for n in (names or []) if n and n.strip()]
    unknown = [n for n in chosen if n not in events.EVENT_TYPES]
    if unknown:
        raise EndpointRefused(N_("unknown event %(event)s (one of %(events)s)"), event=repr(unknown[0]),
                              events=", ".join(events.EVENT_TYPES))
    return sorted(set(chosen), key=events.EVENT_TYPES.index) or None


def add_endpoint(url: str, event_names, *, actor: str) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret (shown once: only its encrypted form is kept). Committed."""
    check_url(url, _allow_private())
    chosen = read_events(event_names)
    secret = new_secret()
    endpoint = WebhookEndpoint(url=url.strip(), secret_encrypted=_data_key().encrypt(secret), events=chosen,
                               active=True, created_by=actor)
    db.session.add(endpoint)
    db.session.flush()
    audit.record("webhook_endpoint_added", actor=actor, subject=f"webhook:{endpoint.id}",
                 after={"url": endpoint.url, "events": chosen or "all"})
    db.session.commit()
    return endpoint, secret


def remove_endpoint(endpoint_id: int, *, actor: str) -> WebhookEndpoint | None:
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or not endpoint.active:
        return None
    endpoint.active = False
    endpoint.removed_at = clock.now()
    # what it had not received yet will not be sent
    db.session.execute(update(WebhookDelivery).where(
        WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.state == DeliveryState.PENDING,
    ).values(state=DeliveryState.FAILED, finished_at=clock.now(), claim_token=None))
    audit.record("webhook_endpoint_removed", actor=actor, subject=f"webhook:{endpoint.id}",
                 before={"url": endpoint.url})
    db.session.commit()
    return endpoint


def active_endpoints() -> list[WebhookEndpoint]:
    return list(db.session.scalars(db.select(WebhookEndpoint).where(WebhookEndpoint.active.is_(True))
                                   .order_by(WebhookEndpoint.id)))


# ------------------------------------------------------------------ deliveries


def claim(delivery: WebhookDelivery, now: datetime, *, force: bool = False) -> str | None:
    """Take one attempt of a delivery (`outbox.claim`). `force` (Redeliver): whatever its state,
    unless another runner holds a live claim."""
    return outbox.claim(WebhookDelivery, delivery, now, lease=LEASE, force=force)


def attempt(delivery_id: int, token: str, *, actor: str | None = None) -> WebhookAttempt | None:
    """Send one claimed attempt and record it; the delivery then succeeded, waits or failed."""
    delivery = db.session.get(WebhookDelivery, delivery_id, populate_existing=True)
    if delivery is None or delivery.claim_token != token:
        return None
    endpoint = db.session.get(WebhookEndpoint, delivery.endpoint_id)
    event = db.session.get(Event, delivery.event_id)
    if endpoint is None or not endpoint.active or event is None:
        answer = Answer(False, error="the endpoint was removed")
    else:
        body = payload(event)
        stamp = int(clock.timestamp())
        try:
            secret = endpoint_secret(endpoint)
        except DataKeyError:
            secret = None
        if secret is None:  # not sent unsigned; retried, so a restored LICENSE_DATA_KEY lets it through
            answer = Answer(False, error="the endpoint's secret cannot be read (was LICENSE_DATA_KEY changed?)")
        else:
            answer = post(endpoint.url, body, headers(secret, delivery.msg_id, stamp, body),
                          timeout=float(current_app.config["LICENSE_WEBHOOK_TIMEOUT"]),
                          allow_private=_allow_private())
    now = clock.now()
    record = WebhookAttempt(delivery_id=delivery.id, at=now, ok=answer.ok, status_code=answer.status_code,
                            response=answer.response, error=answer.error, duration_ms=answer.duration_ms, actor=actor)
    db.session.add(record)
    attempts = delivery.attempts + 1
    delay = None if answer.ok or endpoint is None or not endpoint.active else next_delay(attempts)
    values = {"attempts": attempts, "claim_token": None}
    if answer.ok:
        values.update(state=DeliveryState.SUCCEEDED, finished_at=now, next_attempt_at=None)
    elif delay is None:
        values.update(state=DeliveryState.FAILED, finished_at=now, next_attempt_at=None)
    else:
        values.update(state=DeliveryState.PENDING, next_attempt_at=now + timedelta(seconds=delay))
    db.session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery.id,
                                                     WebhookDelivery.claim_token == token)
                       .values(**values).execution_options(synchronize_session=False))
    db.session.commit()
    return record


def deliver_due(now: datetime | None = None, limit: int = BATCH, budget: float = BUDGET) -> dict[str, int]:
    """Every due delivery (at most `limit`, none started after `budget` seconds), one attempt each:
    counts of succeeded, retrying, failed, skipped (claimed by another runner first) and left
    (for the next run)."""
    now = now or clock.now()
    started = time.monotonic()
    counts = {"succeeded": 0, "retrying": 0, "failed": 0, "skipped": 0, "left": 0}
    due = db.session.scalars(
        db.select(WebhookDelivery)
        .where(WebhookDelivery.state == DeliveryState.PENDING, WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(limit)
    ).all()
    for index, delivery in enumerate(due):
        if time.monotonic() - started > budget:
            counts["left"] = len(due) - index
            break
        token = claim(delivery, now)
        if token is None:
            counts["skipped"] += 1
            continue
        attempt(delivery.id, token)
        state = db.session.get(WebhookDelivery, delivery.id, populate_existing=True).state
        counts["succeeded" if state == DeliveryState.SUCCEEDED else "failed" if state == DeliveryState.FAILED
               else "retrying"] += 1
    return counts


def redeliver(delivery_id: int, *, actor: str) -> WebhookAttempt | None:
    """Redeliver (admin): one attempt now, whatever the delivery's state. None: another runner
    holds it right now (or no such delivery)."""
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        return None
    token = claim(delivery, clock.now(), force=True)
    if token is None:
        return None
    made = attempt(delivery_id, token, actor=actor)
    audit.record("webhook_redelivered", actor=actor, subject=f"webhook-delivery:{delivery_id}",
                 after={"msgId": delivery.msg_id, "ok": bool(made and made.ok)}, commit=True)
    return made


def run(now: datetime | None = None) -> dict:
    """`flask license notify`: record what is due (renewals and discards the stored marketplace reads
    show, expiry reminders), then deliver the due webhooks, then the e-mails (`mail.run`: the day's
    digest, the due reminders). The summary it prints."""
    from .reconcile import attention

    now = (now or clock.now()).replace(microsecond=0)
    recorded = {name: 0 for name in events.EVENT_TYPES if name != events.KEY_ISSUED}
    findings = attention(now)
    recorded.update(events.record_findings(findings, now))
    recorded.update(events.scan_expiry(now))
    db.session.commit()
    delivered = deliver_due(now)
    from . import mail

    return {"at": product_key.format_time(now), "events": recorded, "deliveries": delivered, "mail": mail.run(now, findings)}


def deliveries(limit: int = 100, state: str | None = None) -> list[tuple[WebhookDelivery, Event, WebhookEndpoint]]:
    stmt = (db.select(WebhookDelivery, Event, WebhookEndpoint)
            .join(Event, Event.id == WebhookDelivery.event_id)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .order_by(WebhookDelivery.id.desc()).limit(limit))
    if state:
        stmt = stmt.where(WebhookDelivery.state == state)
    return list(db.session.execute(stmt).all())


def attempts_of(delivery_ids) -> dict[int, list[WebhookAttempt]]:
    found: dict[int, list[WebhookAttempt]] = {}
    if not delivery_ids:
        return found
    for row in db.session.scalars(db.select(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(list(delivery_ids)))
                                  .order_by(WebhookAttempt.id)):
        found.setdefault(row.delivery_id, []).append(row)
    return found
