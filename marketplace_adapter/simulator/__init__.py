"""A local Alibaba Cloud Market API: for tests, demos, and the app without marketplace credentials.

    from marketplace_adapter.simulator import Simulator, demo_codes, inprocess_client

    sim = Simulator(demo_codes())
    client = inprocess_client(sim)            # real signing and parsing, no socket
    client.describe_license("DEMO-AKU20-READY-7K3Q")

Over HTTP: ``python -m marketplace_adapter.simulator --port 8089`` or :class:`SimulatorServer`.
See docs/marketplace.md for the codes file and the control interface.
"""

from __future__ import annotations

from typing import Any

from ..client import MarketplaceClient
from .app import DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET, Simulator
from .codes import (
    DEMO_PRODUCT_CODE,
    DEMO_PRODUCT_NAME,
    DEMO_SELLER,
    DEMO_SPECS,
    DEMO_SUPPLIER_NAME,
    OTHER_SELLER,
    CodeRecord,
    demo_codes,
    load_codes_file,
)
from .faults import FAULT_KINDS, READ_TIMEOUT_ENVIRON_KEY, SimulatedDrop, SimulatedReadTimeout
from .server import SimulatorServer
from .transport import INPROCESS_ENDPOINT, WSGIAdapter, inprocess_session

__all__ = [
    "Simulator",
    "SimulatorServer",
    "SimulatedReadTimeout",
    "SimulatedDrop",
    "CodeRecord",
    "WSGIAdapter",
    "inprocess_session",
    "inprocess_client",
    "demo_codes",
    "load_codes_file",
    "DEMO_ACCESS_KEY_ID",
    "DEMO_ACCESS_KEY_SECRET",
    "DEMO_PRODUCT_CODE",
    "DEMO_PRODUCT_NAME",
    "DEMO_SUPPLIER_NAME",
    "DEMO_SELLER",
    "DEMO_SPECS",
    "OTHER_SELLER",
    "FAULT_KINDS",
    "INPROCESS_ENDPOINT",
    "READ_TIMEOUT_ENVIRON_KEY",
]


def inprocess_client(
    simulator: Simulator,
    *,
    access_key_id: str = DEMO_ACCESS_KEY_ID,
    access_key_secret: str = DEMO_ACCESS_KEY_SECRET,
    endpoint: str = INPROCESS_ENDPOINT,
    **client_options: Any,
) -> MarketplaceClient:
    """A :class:`MarketplaceClient` wired to ``simulator`` through :func:`inprocess_session`.

    ``client_options`` go to the client (``signature_version``, ``max_attempts``, ``sleep``...).
    """
    client_options.setdefault("market_tz", simulator.market_tz)
    return MarketplaceClient(
        access_key_id,
        access_key_secret,
        endpoint=endpoint,
        session=inprocess_session(simulator, endpoint),
        **client_options,
    )
