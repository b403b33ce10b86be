"""`flask license status`: this environment's install ID and license, as JSON on stdout."""
from __future__ import annotations

import json

import click

from ..cli import license_cli, require_side, say, warn_if_untrusting
from ..timefmt import for_people


@license_cli.command("status")
def status() -> None:
    """Print this environment's install ID and license state (the GET /api/v1/environment document)."""
    require_side("environment")
    from .license_record import current_license

    warn_if_untrusting()  # no product key can be activated here: part of this environment's state

    lic = current_license()
    click.echo(json.dumps(lic.to_json(), indent=2, ensure_ascii=False))
    t = lic.terms
    left = "expired" if lic.expired else f"{lic.time_left} left"
    say(
        f"Install ID {lic.install_id}: {lic.status_label}, {lic.aku_in_use} of {t.aku} AKU in use, "
        f"until {for_people(t.expires_at)} ({left})."
    )
