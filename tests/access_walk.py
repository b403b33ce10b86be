"""Walk an app's URL map as every kind of visitor and hold each answer to the route's declared
access (webapp/access.py). Used by tests/test_access.py (the standalone app) and
tests/host_console/test_host_access.py (the environment's routes in a host console).

Each route is asked with every method its rule allows (HEAD and OPTIONS too), with a path
whose variables are filled in (a real file for static routes) and an empty form or JSON body.
What the answer must be comes from the declaration, never from the answers:

| declared | let in | the others get |
|---|---|---|
| page of `roles` (`roles_required`) | a session holding one of them (admin holds all) | no session (a bearer token counts for nothing): a redirect to the login page; another role: 403 |
| API of `roles` (`api_roles_required`) | a bearer token of a user holding one | no token (a session counts for nothing): 401; another role: 403 |
| operator page (`operator_page`) | standalone: as a page of `operator`; in a host: whoever the host's `login_check` admits | the host's redirect to its login |
| public (`access.PUBLIC`) | everyone | - |

"Let in" means any answer but 401, 403, a redirect to the login page, or a 5xx (a 404 for an
id that does not exist, a 422 for the empty form are answers of the route itself). A 5xx fails
whoever asks. An OPTIONS request is Flask's own answer, listing the methods without running the
view: 200 with `Allow` and no body, for anyone.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from flask import Flask

from webapp.access import API, OPERATOR_PAGE, PAGE, PUBLIC_ROUTE, Access, access_of

ROLES = ("operator", "issuer", "admin")
ANONYMOUS = "anonymous"
SESSION = "session"  # signed in with a session cookie (the plugin's login, or a host's)
BEARER = "bearer"  # Authorization: Bearer <token> of the plugin's account
# Endpoints whose answer ends the session that asked: the walk signs in again after them.
ENDS_SESSION = {"accounts.logout"}


@dataclass(frozen=True)
class Visitor:
    kind: str  # ANONYMOUS, SESSION or BEARER
    role: str | None = None  # the account's role; None for a host console's own user

    def __str__(self) -> str:
        return self.kind if self.role is None else f"{self.kind} {self.role}"


@dataclass
class Walk:
    """What a walk found: every request made, and the problems (empty when all is as declared)."""

    asked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def path_for(app: Flask, rule) -> str:
    """The rule's path with its variables filled in: a file that exists for static files, 1 elsewhere."""
    values = {}
    for name in rule.arguments:
        values[name] = "app.js" if name == "filename" else ("1" if name != "rest" else "no-such-page")
    _, path = rule.build(values, append_unknown=False)
    return path


def login_path(location: str | None) -> bool:
    return bool(location) and urlsplit(location).path.rstrip("/").endswith("/login")


def lets_in(access: Access, visitor: Visitor, *, hosted: bool) -> bool:
    """Whether the declaration lets the visitor in."""
    if access.guard == PUBLIC_ROUTE:
        return True
    if access.guard == API:
        return visitor.kind == BEARER and (visitor.role == "admin" or visitor.role in access.roles)
    if access.guard == OPERATOR_PAGE and hosted:
        return visitor.kind == SESSION  # the host's login_check: its signed-in users
    if access.guard in (PAGE, OPERATOR_PAGE):
        return visitor.kind == SESSION and (visitor.role == "admin" or visitor.role in access.roles)
    raise AssertionError(f"unknown guard {access.guard!r}")


def refusal_expected(access: Access, visitor: Visitor, *, hosted: bool) -> str:
    """The answer a visitor the declaration keeps out must get: "login" (a redirect to the login
    page), "401" or "403"."""
    if access.guard == API:
        return "403" if visitor.kind == BEARER else "401"
    if visitor.kind == SESSION and not hosted:
        return "403"
    return "login"


def check(access: Access, visitor: Visitor, response, *, hosted: bool) -> str | None:
    """What is wrong with an answer, or None."""
    status = response.status_code
    location = response.headers.get("Location")
    if status >= 500:
        return f"{status}: a server error"
    if lets_in(access, visitor, hosted=hosted):
        if status in (401, 403) or (status in (301, 302, 303, 307, 308) and login_path(location)
                                    and access.guard != PUBLIC_ROUTE):
            return f"{status} {location or ''}: kept out, but its declaration ({access.guard} "\
                   f"{'/'.join(access.roles) or ''}) lets it in".replace("  ", " ")
        return None
    expected = refusal_expected(access, visitor, hosted=hosted)
    if expected == "login":
        if status in (302, 303) and login_path(location):
            return None
        return f"{status}: let in (or refused the wrong way); its declaration ({access.guard} " \
               f"{'/'.join(access.roles)}) sends it to the login page"
    if str(status) == expected:
        return None
    return f"{status}: its declaration ({access.guard} {'/'.join(access.roles)}) answers it {expected}"


def undeclared(app: Flask, endpoints) -> list[str]:
    return sorted(e for e in endpoints if access_of(app, e) is None)


def walk(app: Flask, clients: dict[Visitor, tuple], *, hosted: bool = False, endpoints=None,
         sign_in=None) -> Walk:
    """Ask every route (of `endpoints`, default every endpoint of the app) with every method as
    each visitor; `clients` maps a visitor to its test client and the headers it sends (a bearer
    token's). `sign_in(visitor)` answers a new (client, headers) after a route that ends sessions."""
    found = Walk()
    rules = [r for r in app.url_map.iter_rules() if endpoints is None or r.endpoint in endpoints]
    for name in undeclared(app, {r.endpoint for r in rules}):
        found.problems.append(f"{name}: no declared access (webapp/access.py says how to declare one)")
    for rule in sorted(rules, key=lambda r: (r.endpoint in ENDS_SESSION, r.rule)):
        access = access_of(app, rule.endpoint)
        if access is None:
            continue
        path = path_for(app, rule)
        for method in sorted(rule.methods):
            for visitor in list(clients):
                client, headers = clients[visitor]
                body = {"json": {}} if "/api/v1" in path else {"data": {}}
                response = client.open(path, method=method, headers=headers,
                                       **(body if method not in ("GET", "HEAD", "OPTIONS") else {}))
                response.get_data()  # a streamed answer (audit.csv) runs to its end
                response.close()
                found.asked.append(f"{method} {path} as {visitor}: {response.status_code}")
                if method == "OPTIONS":
                    problem = None if response.status_code == 200 and "Allow" in response.headers \
                        and not response.data else f"{response.status_code}: not Flask's own OPTIONS answer"
                else:
                    problem = check(access, visitor, response, hosted=hosted)
                if problem:
                    found.problems.append(f"{method} {path} ({rule.endpoint}) as {visitor}: {problem}")
                if rule.endpoint in ENDS_SESSION and visitor.kind == SESSION and sign_in is not None:
                    clients[visitor] = sign_in(visitor)
    return found
