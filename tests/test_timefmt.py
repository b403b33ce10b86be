"""The one way pages write a time (`webapp.timefmt`): datetimes, and the ISO 8601 text that key
terms and audit records hold."""
from __future__ import annotations

from datetime import datetime, timezone

from webapp.timefmt import day_for_people, for_machines, for_people


def test_times_for_people_from_datetimes_and_recorded_text():
    moment = datetime(2026, 12, 1, 2, 43, 9, tzinfo=timezone.utc)
    for value in (moment, moment.replace(tzinfo=None), "2026-12-01T02:43:09Z"):
        assert for_people(value) == "2026-12-01 02:43 UTC"
        assert day_for_people(value) == "2026-12-01"
        assert for_machines(value) == "2026-12-01T02:43:09Z"


def test_no_time_and_text_that_is_not_a_time():
    assert for_people(None) == for_people("") == day_for_people(None) == "—"
    assert for_machines(None) == for_machines("soon") == ""
    assert for_people("soon") == day_for_people("soon") == "soon"  # shown as it is
