"""Issue 11: a short fuzz run against a live server (tests/fuzz_live.py, where a longer one is
run by hand): 0 5xx, no error logged, JSON under /api/v1, no markup sent ever an element."""
from __future__ import annotations

from tests import fuzz_live


def test_a_bounded_fuzz_run_against_a_live_server_finds_nothing():
    report = fuzz_live.run(seconds=60, requests_budget=600, workers=2, seed=11, quiet=True)
    assert report.requests >= 600
    assert report.findings == []
    assert not [status for status in report.statuses if status.startswith("5") or status == "no answer"]
    # The run reached the views, not only the doors: answers of many kinds.
    assert {"200", "400", "403", "422"} <= set(report.statuses)
