"""The limits on refused keys hold in a host console too, where the plugin adds no Limiter of
its own (webapp/environment/refusal_limits.py keeps its own counters)."""
from __future__ import annotations

import pytest

from .conftest import EMAIL


@pytest.fixture
def console_config():
    return {"WTF_CSRF_ENABLED": False, "LICENSE_REFUSAL_ACTOR_LIMITS": "2/minute"}


def test_a_console_user_is_held_back_after_too_many_refused_keys(signed_in, app):
    for _ in range(2):
        assert signed_in.post("/license/settings/license", data={"product_key": "no key"}).status_code == 422
    response = signed_in.post("/license/settings/license", data={"product_key": "no key"})
    html = response.get_data(as_text=True)
    assert response.status_code == 429 and int(response.headers["Retry-After"]) >= 1
    assert "limited to 2 a minute from one person" in html and 'data-error-code="rate_limited"' in html
    from webapp.database import db
    from webapp.environment.models import Activation

    with app.app_context():
        assert [(row.actor, row.count) for row in db.session.scalars(db.select(Activation))] == [(EMAIL, 2)]
