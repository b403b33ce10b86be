"""The demo's marketplace, shared by every process of one instance folder. Demo only.

Without marketplace credentials the vendor side talks to the Market API simulator in-process
(`marketplace.build`). A simulator held only in memory is one per process: every web worker and
every `flask license ...` command would start its own from fresh demo codes, so a renewal played
on the Demo codes page would be invisible to `flask license reconcile` (and to the other
workers), and each start would move every demo expiry a little, which the reconciler would take
for renewals.

So in demo mode the codes live in a JSON file in the instance folder, `demo-marketplace.json`
(the simulator's codes-file format, `{"codes": [...]}`, absolute UTC times):

- seeded once, from `MARKETPLACE_SIMULATOR_CODES` or the simulator's demo codes;
- read again before every Market API call and every control action whenever its modification
  time, size or inode differ from what this process last read or wrote;
- written atomically (a temporary file of mode 0600 in the same folder, then `os.replace`) after every control
  action (renew, change specification, refund, expire) and every call that changed a code
  (ActivateLicense), all under an exclusive `flock` of `demo-marketplace.json.lock`, so that two
  processes never lose each other's changes.

`MARKETPLACE_SIMULATOR_STATE` names the file; by default it is the one above in demo mode (no
`SECRET_KEY`) and none otherwise (each process keeps its own simulator, as the tests do). Codes
are never removed from a running simulator: to start again from the seed, stop the app and
delete the file.

The Demo codes page plays the marketplace through `play` (renew, change specification, refund),
which also rewrites the code's note ("What it shows") for its new state and answers a sentence
saying what it did; `listing` gives the codes with their times as datetimes, for the pages.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, TypeVar

from marketplace_adapter.simulator import OTHER_SELLER, Simulator, load_codes_file

from ..i18n import gettext as _
from ..timefmt import day_for_people

try:  # POSIX; elsewhere the file is shared without a lock between processes
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

STATE_FILE = "demo-marketplace.json"
T = TypeVar("T")


class DemoMarketError(RuntimeError):
    """The shared codes file cannot be used; the message names the file and what to do."""


class SharedSimulator:
    """A `Simulator` whose codes are shared through a JSON file (see the module's text).

    It is the WSGI app the in-process client calls, and it offers the simulator's control
    methods used by the Demo codes page; anything else is the wrapped simulator's.
    """

    def __init__(self, simulator: Simulator, path: str | os.PathLike) -> None:
        self.simulator = simulator
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._thread_lock = threading.RLock()
        self._seen: tuple[int, int, int] | None = None  # (mtime_ns, size, inode) last read or written

    # ------------------------------------------------------------ start

    def start(self, seed: Iterable[dict[str, Any]]) -> "SharedSimulator":
        """Load the file, or create it from `seed` when there is none yet."""
        with self._locked():
            if self.path.exists():
                self._reload(strict=True)
            else:
                self.simulator.add_codes(seed)
                self._save()
        return self

    # ------------------------------------------------------------ the Market API (WSGI)

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> list[bytes]:
        with self._locked():
            self._refresh()
            before = self.simulator.list_codes()
            answer = b"".join(self.simulator(environ, start_response))
            if self.simulator.list_codes() != before:
                self._save()
            return [answer]

    # ------------------------------------------------------------ control (the Demo codes page)

    def control(self, action: Callable[[Simulator], T]) -> T:
        """Run `action(simulator)` on the latest codes and write the result for everyone."""
        with self._locked():
            self._refresh()
            try:
                return action(self.simulator)
            finally:
                self._save()

    def list_codes(self) -> list[dict[str, Any]]:
        with self._locked():
            self._refresh()
            return self.simulator.list_codes()

    def get_code(self, code: str) -> dict[str, Any]:
        with self._locked():
            self._refresh()
            return self.simulator.get_code(code)

    def add_code(self, code: dict[str, Any]) -> dict[str, Any]:
        return self.control(lambda sim: sim.add_code(code))

    def renew(self, code: str, **options: Any) -> dict[str, Any]:
        return self.control(lambda sim: sim.renew(code, **options))

    def change_specification(self, code: str, specification: str, **options: Any) -> dict[str, Any]:
        return self.control(lambda sim: sim.change_specification(code, specification, **options))

    def discard(self, code: str) -> dict[str, Any]:
        return self.control(lambda sim: sim.discard(code))

    def expire(self, code: str) -> dict[str, Any]:
        return self.control(lambda sim: sim.expire(code))

    def __getattr__(self, name: str) -> Any:  # market_tz, calls, inject_fault, ...
        return getattr(self.simulator, name)

    # ------------------------------------------------------------ the file

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._thread_lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.lock_path, "a") as handle:
                if fcntl is not None:
                    fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    if fcntl is not None:
                        fcntl.flock(handle, fcntl.LOCK_UN)

    def _stamp(self) -> tuple[int, int, int]:
        st = os.stat(self.path)
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _refresh(self) -> None:
        try:
            stamp = self._stamp()
        except FileNotFoundError:  # deleted while running: what this process knows is the state
            self._save()
            return
        if stamp != self._seen:
            self._reload()

    def _reload(self, *, strict: bool = False) -> None:
        stamp = self._stamp()
        try:
            self.simulator.add_codes(load_codes_file(self.path))
        except (OSError, ValueError, TypeError, KeyError) as exc:
            message = (f"the demo marketplace's codes file {self.path} cannot be read ({exc}); "
                       "stop the app and delete it to start again from the demo codes")
            if strict:
                raise DemoMarketError(message) from None
            log.warning("%s; keeping the codes this process has", message)
        self._seen = stamp

    def _save(self) -> None:
        text = json.dumps({"codes": self.simulator.list_codes()}, indent=1, ensure_ascii=False)
        handle = tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=self.path.parent,
                                             prefix=self.path.name + ".", suffix=".tmp", delete=False)
        try:
            with handle:
                handle.write(text + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(handle.name, self.path)
        except BaseException:
            Path(handle.name).unlink(missing_ok=True)
            raise
        self._seen = self._stamp()


# ------------------------------------------------------------------ the Demo codes page

#: Days a "Renew" adds, as a renewal order of the demo.
RENEW_DAYS = 30
#: The "Ends in 5 days" action (issue 14): a code about to end, to show the expiry reminders.
SOON_DAYS = 5


class UnknownAction(ValueError):
    """Not one of the page's actions: `renew`, `spec:<specification>`, `discard`, `soon`."""


@dataclass(frozen=True)
class Played:
    """What an action on a demo code did, for the page's status message."""

    code: str
    message: str
    ok: bool = True


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def listing(sim) -> list[dict[str, Any]]:
    """The simulator's codes as the page shows them: times as datetimes (for the `when`/`day`
    filters), everything else as the simulator holds it."""
    return [{**code, **{name: _time(code.get(name)) for name in ("created_at", "activated_at", "expires_at")}}
            for code in sim.list_codes()]


def describe(code: Mapping[str, Any], *, specs: Mapping[str, Any], product_code: str,
             now: datetime) -> str:
    """What a code shows now, in the words of the demo codes' notes."""
    status = code.get("status")
    spec = specs.get(code.get("specification") or code.get("sku_id") or "")
    expires = _time(code.get("expires_at"))
    until = day_for_people(expires)
    if status == "DISCARD":
        return _("Discarded: the order was refunded, so it can no longer be redeemed")
    if status == "INVALID":
        return _("The marketplace calls it invalid (License.Invalid)")
    if status == "EXPIRED" or (expires is not None and expires <= now):
        return _("Expired on %(day)s", day=until)
    if code.get("seller") == OTHER_SELLER:
        return _("Another seller's product (Auth.Match), until %(day)s", day=until)
    if code.get("product_code") != product_code:
        return _("Ours, but for another product code, until %(day)s", day=until)
    if spec is None:
        return _("Specification %(specification)s has no AKU here, until %(day)s",
                 specification=code.get('specification') or code.get('sku_id'), day=until)
    where = _(" (AliUid only in the aliUid attribute)") if code.get("uid_in") == "attribute" else ""
    if status == "ACTIVATED":
        return _("Activated, %(aku)s AKU until %(day)s%(where)s", aku=spec.aku, day=until, where=where)
    return _("Not activated yet, %(aku)s AKU until %(day)s: redeem it%(where)s", aku=spec.aku, day=until, where=where)


def _in_english():
    """The notes are stored for every process and every reader: written in English (the page
    shows them in its own language, `describe` again)."""
    from flask import has_request_context
    from flask_babel import force_locale

    return force_locale("en") if has_request_context() else nullcontext()


def play(sim, code: str, action: str, *, specs: Mapping[str, Any], product_code: str) -> str:
    """Play one marketplace event on a demo code and say what it did.

    `action`: `renew` (a renewal order of `RENEW_DAYS` days), `spec:<specification>` (an upgrade
    or downgrade order), `discard` (a refund), `soon` (the code ends in `SOON_DAYS` days, to show
    the expiry reminders of issue 14). The code's note is rewritten for its new state
    (`describe`, after what was played), in the same step, so every process sees both. Raises
    `UnknownAction`, `KeyError` (no such code) or `ValueError` (the simulator refused).
    """
    if action == "renew":
        event, done = (lambda s: s.renew(code, days=RENEW_DAYS)), f"Renewed by {RENEW_DAYS} days"
    elif action.startswith("spec:") and action[5:]:
        specification = action[5:]
        event = lambda s: s.change_specification(code, specification)  # noqa: E731
        done = f"Specification changed to {specification}"
    elif action == "discard":
        event, done = (lambda s: s.discard(code)), "Refunded"
    elif action == "soon":
        # the order's end moved to SOON_DAYS days from now (the simulator records it as an order)
        event = lambda s: s.renew(code, expires_at=f"+{SOON_DAYS}d")  # noqa: E731
        done = f"Ends in {SOON_DAYS} days"
    else:
        raise UnknownAction(action)

    def run(simulator: Simulator) -> dict[str, Any]:
        record = event(simulator)
        with _in_english():
            state = describe(record, specs=specs, product_code=product_code, now=simulator.now())
        note = state if action == "discard" else f"{done}. {state}"
        return simulator.add_code({**record, "note": note})

    record = sim.control(run) if isinstance(sim, SharedSimulator) else run(sim)
    if action == "renew":
        return _("Renewed %(code)s until %(until)s.", code=code, until=day_for_people(_time(record['expires_at'])))
    if action == "discard":
        return _("Refunded %(code)s: the marketplace now shows it discarded.", code=code)
    if action == "soon":
        return _("%(code)s now ends on %(until)s. Its environment's key still says later: issue the new key on "
                 "Needs attention, then the expiry reminder is due (Needs attention, Reminders sent).",
                 code=code, until=day_for_people(_time(record['expires_at'])))
    spec = specs.get(action[5:])
    if spec is not None:
        return _("Specification of %(code)s changed to %(specification)s (%(aku)s AKU).", code=code,
                 specification=action[5:], aku=spec.aku)
    return _("Specification of %(code)s changed to %(specification)s (no AKU configured for it here).",
             code=code, specification=action[5:])
