"""`flask license reconcile [--issue]`: the vendor side's commands.

Machine output on stdout (one JSON object per line, or one document with `--json`); the
progress bar and the summary on stderr.
"""
from __future__ import annotations

import json
import sys

import click

from ..cli import command_line, license_cli, need_signing_key, require_side, say


@license_cli.command("reconcile")
@click.option("--issue", "issue_keys", is_flag=True, help="Issue the missing keys (renewals, specification changes).")
@click.option("--concurrency", type=click.IntRange(min=1, max=32), default=None,
              help="Codes read at the same time (default MARKETPLACE_RECONCILE_CONCURRENCY, 4).")
@click.option("--all", "show_all", is_flag=True, help="List every bound code, the up-to-date ones too.")
@click.option("--json", "as_document", is_flag=True, help="One JSON document instead of JSON lines.")
def reconcile_command(issue_keys: bool, concurrency: int | None, show_all: bool, as_document: bool) -> None:
    """Re-read every bound marketplace code; list what needs a new key (and issue it with --issue).

    Exit status: 0, or 1 when some codes could not be read or some keys could not be issued.
    """
    require_side("vendor")
    from .reconcile import _live_pairs, attention, reconcile

    if issue_keys:
        need_signing_key()

    total = len(_live_pairs())
    with click.progressbar(length=total, label=f"Reading {total} code(s) from the marketplace",
                           file=sys.stderr, show_pos=True) as bar:
        report = reconcile(issue=issue_keys, concurrency=concurrency, progress=bar.update, actor="cli reconcile")
    findings = attention(include_ok=True) if show_all else report.findings
    if show_all and issue_keys:  # keep what --issue did on the listed rows
        done = {f.binding.id: f for f in report.findings}
        findings = [done.get(f.binding.id, f) for f in findings]
    items = [finding.to_json() for finding in findings]
    if as_document:
        click.echo(json.dumps({"summary": report.counts(), "items": items}, indent=2))
    else:
        for item in items:
            click.echo(json.dumps(item, separators=(",", ":")))
    counts = report.counts()
    needs = sum(1 for f in report.findings if f.needs_key and f.issued is None)
    lost = sum(1 for f in report.findings if f.kind in ("expired", "discarded"))
    say(f"Checked {counts['checked']} code(s): {needs} need a new key, {lost} expired or discarded, "
        f"{counts['unreadable']} could not be read" + (f", {counts['issued']} key(s) issued." if issue_keys else "."))
    if needs and not issue_keys:
        say(f"Run `{command_line('license reconcile --issue')}` (or use the Needs attention page) to issue them.")
    failed = any(f.issue_error is not None for f in report.findings)
    if counts["unreadable"] or failed:
        sys.exit(1)
