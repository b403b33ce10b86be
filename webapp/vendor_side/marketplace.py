"""The vendor side's marketplace: a `MarketplaceClient` built from the configuration.

With `ALIBABA_CLOUD_ACCESS_KEY_ID` and `_SECRET` set, the client talks to the real Market API
(`MARKETPLACE_ENDPOINT`, `MARKETPLACE_SIGNATURE_VERSION`, `MARKETPLACE_TIMEZONE`) and
`MARKETPLACE_PRODUCT_CODE` is required. With none set, it talks to the local simulator
in-process (real signing and parsing, no socket), seeded with the simulator's demo codes (or
the codes file `MARKETPLACE_SIMULATOR_CODES`), and product code and specifications default to
the demo's, so the demo works with no configuration. In demo mode the simulator's codes are
shared by every process of the instance folder through `MARKETPLACE_SIMULATOR_STATE`
(`demo_market`), so `flask license reconcile` sees what the Demo codes page changed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from flask import Flask, current_app

from marketplace_adapter import MarketCall, MarketplaceClient

from .specs import Spec, parse_specs

STATE_KEY = "license_vendor"


class ActivateMode(StrEnum):
    """`MARKETPLACE_ACTIVATE`: whether ActivateLicense must succeed before a key is issued."""

    REQUIRED = "required"
    BEST_EFFORT = "best-effort"
    OFF = "off"


ACTIVATE_MODES = tuple(ActivateMode)


class MarketplaceConfigError(RuntimeError):
    pass


@dataclass
class Marketplace:
    """What the vendor side needs to ask the marketplace, per app."""

    client: MarketplaceClient
    product_code: str
    specs: dict[str, Spec]
    activate: ActivateMode
    simulator: Any = None  # a simulator.Simulator (or a demo_market.SharedSimulator) in the demo
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def simulated(self) -> bool:
        return self.simulator is not None


def observe_call(call: MarketCall) -> None:
    """Every Market API attempt: counted and timed (`metrics`), its RequestId noted for the
    log lines that follow it (`request_log`)."""
    from .. import metrics, request_log

    metrics.market_call(call)
    request_log.note_market_request_id(call.request_id)


def _client_options(app: Flask) -> dict[str, Any]:
    c = app.config
    return dict(
        timeout=float(c["MARKETPLACE_TIMEOUT"]),
        max_attempts=int(c["MARKETPLACE_MAX_ATTEMPTS"]),
        deadline=float(c["MARKETPLACE_DEADLINE"]),
        market_tz=c["MARKETPLACE_TIMEZONE"],
        signature_version=c["MARKETPLACE_SIGNATURE_VERSION"],
        observer=observe_call,
    )


def _demo_specs(demo_specs: dict[str, dict]) -> dict[str, Spec]:
    """The simulator's specifications; no names, so keys carry the marketplace's ProductName."""
    return {key: Spec(key=key, aku=int(value["aku"])) for key, value in demo_specs.items()}


def build(app: Flask) -> Marketplace:
    """Read the configuration; raise `MarketplaceConfigError` naming what is missing or wrong."""
    c = app.config
    activate = c["MARKETPLACE_ACTIVATE"].strip().lower()
    if activate not in ACTIVATE_MODES:
        raise MarketplaceConfigError(
            f"MARKETPLACE_ACTIVATE must be one of {', '.join(ACTIVATE_MODES)}, not {activate!r}"
        )
    activate = ActivateMode(activate)
    try:
        specs = parse_specs(c["MARKETPLACE_SPECS"])
    except ValueError as exc:
        raise MarketplaceConfigError(str(exc)) from None
    key_id = c["ALIBABA_CLOUD_ACCESS_KEY_ID"]
    secret = c["ALIBABA_CLOUD_ACCESS_KEY_SECRET"]
    if key_id or secret:
        if not (key_id and secret):
            raise MarketplaceConfigError(
                "set both ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET (or neither, for the demo simulator)"
            )
        product_code = c["MARKETPLACE_PRODUCT_CODE"]
        if not product_code:
            raise MarketplaceConfigError(
                "MARKETPLACE_PRODUCT_CODE is not set: with marketplace credentials it names the "
                "product that authorization codes must belong to"
            )
        if not specs:
            raise MarketplaceConfigError(
                "MARKETPLACE_SPECS is not set: map each specification to its AKU, e.g. "
                '{"<package_version>": {"aku": 20, "name": "..."}}'
            )
        try:
            client = MarketplaceClient(
                key_id, secret, security_token=c["ALIBABA_CLOUD_SECURITY_TOKEN"] or None,
                endpoint=c["MARKETPLACE_ENDPOINT"], **_client_options(app),
            )
        except ValueError as exc:
            raise MarketplaceConfigError(f"marketplace settings: {exc}") from None
        return Marketplace(client=client, product_code=product_code, specs=specs, activate=activate)

    from marketplace_adapter.simulator import (
        DEMO_PRODUCT_CODE,
        DEMO_SPECS,
        Simulator,
        demo_codes,
        inprocess_client,
        load_codes_file,
    )

    product_code = c["MARKETPLACE_PRODUCT_CODE"] or DEMO_PRODUCT_CODE
    codes_file = c["MARKETPLACE_SIMULATOR_CODES"]
    codes = load_codes_file(codes_file) if codes_file else demo_codes(product_code=product_code)
    state_file = c["MARKETPLACE_SIMULATOR_STATE"]
    if state_file:
        from .demo_market import DemoMarketError, SharedSimulator

        try:
            simulator = SharedSimulator(Simulator(market_tz=c["MARKETPLACE_TIMEZONE"]), state_file).start(codes)
        except DemoMarketError as exc:
            raise MarketplaceConfigError(str(exc)) from None
    else:
        simulator = Simulator(codes, market_tz=c["MARKETPLACE_TIMEZONE"])
    options = _client_options(app)
    options.pop("market_tz")
    client = inprocess_client(simulator, **options)
    return Marketplace(
        client=client,
        product_code=product_code,
        specs=specs or _demo_specs(DEMO_SPECS),
        activate=activate,
        simulator=simulator,
    )


def init_app(app: Flask) -> Marketplace:
    """Build the app's marketplace from its settings (their defaults: `webapp.settings`; in the
    demo the simulator's codes are shared through `MARKETPLACE_SIMULATOR_STATE`, a file in the
    instance folder)."""
    market = build(app)
    app.extensions[STATE_KEY] = market
    return market


def market(app: Flask | None = None) -> Marketplace:
    return (app or current_app).extensions[STATE_KEY]
