"""Fixtures for the marketplace adapter tests: a fake clock that never sleeps for real, a
simulator seeded with the demo codes, clients wired to it in-process or over loopback."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import pytest
import requests

from marketplace_adapter import MarketplaceClient
from marketplace_adapter.simulator import (
    DEMO_ACCESS_KEY_ID,
    DEMO_ACCESS_KEY_SECRET,
    Simulator,
    SimulatorServer,
    demo_codes,
    inprocess_client,
)

NOW = datetime(2024, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
ENDPOINT = "https://market.aliyuncs.com"


class FakeTime:
    """Monotonic clock, wall clock and sleep in one: ``sleep`` only moves the clocks forward."""

    def __init__(self, start: datetime = NOW) -> None:
        self.start = start
        self.elapsed = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.elapsed

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.elapsed += seconds

    def utcnow(self) -> datetime:
        return self.start + timedelta(seconds=self.elapsed)

    def advance(self, seconds: float) -> None:
        self.elapsed += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def make_client(fake_time: FakeTime) -> Callable[..., MarketplaceClient]:
    """A client for ``ENDPOINT`` (mocked with ``responses``) on fake time, seeded jitter."""

    def factory(**options: Any) -> MarketplaceClient:
        options.setdefault("access_key_id", "testid")
        options.setdefault("access_key_secret", "testsecret")
        options.setdefault("endpoint", ENDPOINT)
        options.setdefault("clock", fake_time.monotonic)
        options.setdefault("sleep", fake_time.sleep)
        options.setdefault("utcnow", fake_time.utcnow)
        options.setdefault("rng", random.Random(7))
        return MarketplaceClient(**options)

    return factory


@pytest.fixture
def market_sim(fake_time: FakeTime) -> Simulator:
    """The demo codes, on the same fake clock as the clients (so timestamps line up)."""
    return Simulator(demo_codes(NOW), clock=fake_time.utcnow, sleep=fake_time.sleep)


@pytest.fixture
def sim_client(market_sim: Simulator, fake_time: FakeTime) -> Callable[..., MarketplaceClient]:
    """In-process clients of ``market_sim`` on fake time."""

    def factory(**options: Any) -> MarketplaceClient:
        options.setdefault("clock", fake_time.monotonic)
        options.setdefault("sleep", fake_time.sleep)
        options.setdefault("utcnow", fake_time.utcnow)
        options.setdefault("rng", random.Random(7))
        return inprocess_client(market_sim, **options)

    return factory


@pytest.fixture
def live_sim() -> Simulator:
    """A simulator on the real clock, for loopback tests."""
    return Simulator(demo_codes())


@pytest.fixture
def sim_server(live_sim: Simulator):
    with SimulatorServer(live_sim, "127.0.0.1", 0) as server:
        yield server


@pytest.fixture
def live_client(sim_server: SimulatorServer) -> Callable[..., MarketplaceClient]:
    def factory(**options: Any) -> MarketplaceClient:
        options.setdefault("endpoint", sim_server.url)
        options.setdefault("timeout", 5.0)
        # Loopback must not go through a proxy from the environment.
        session = requests.Session()
        session.trust_env = False
        sessions.append(session)
        return MarketplaceClient(DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET, session=session,
                                 **options)

    sessions: list[requests.Session] = []
    yield factory
    for session in sessions:
        session.close()
