"""`flask license ...` and `flask users ...` (`flask license users ...`): machine output on stdout, people's on stderr."""
import json
import os
import re
import stat
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click
import pytest
from flask.cli import ScriptInfo

from webapp import product_key

from webapp.vendor_side import signing_keys
from webapp.database import db
from webapp.models.audit import AuditEvent
from webapp.vendor_side.models import IssuedKey, SigningKey

INSTALL_ID = "f0d3d4e6bf28c50c4c73dc77de53a6b9"


@pytest.fixture
def cli(app):
    return app.test_cli_runner()


def test_keygen_makes_the_new_key_the_only_active_one(app, cli):
    result = cli.invoke(args=["license", "keygen", "--kid", "2026-11-a"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "2026-11-a\n"
    with app.app_context():
        active = db.session.scalars(db.select(SigningKey).where(SigningKey.active.is_(True))).all()
        assert [k.kid for k in active] == ["2026-11-a"]
        assert len(signing_keys.public_keys()) == 2
        stored = db.session.scalar(db.select(SigningKey).where(SigningKey.kid == "2026-11-a"))
        assert "ENCRYPTED PRIVATE KEY" in stored.private_key_encrypted


def test_keygen_refuses_a_duplicate_or_bad_kid(cli):
    assert cli.invoke(args=["license", "keygen", "--kid", "k1"]).exit_code == 0
    result = cli.invoke(args=["license", "keygen", "--kid", "k1"])
    assert result.exit_code == 2 and "already exists" in result.stderr
    assert cli.invoke(args=["license", "keygen", "--kid", "bad kid!"]).exit_code == 2


def test_public_keys_prints_json_of_every_key(cli):
    cli.invoke(args=["license", "keygen", "--kid", "2026-11-a"])
    keys = json.loads(cli.invoke(args=["license", "public-keys"]).stdout)
    assert "2026-11-a" in keys and all(pem.startswith("-----BEGIN PUBLIC KEY-----") for pem in keys.values())
    assert product_key.load_public_keys(keys)


def test_issue_then_verify(app, cli):
    cli.invoke(args=["license", "keygen", "--kid", "2026-11-a"])
    result = cli.invoke(args=["license", "issue", "--install-id", INSTALL_ID, "--aku", "40", "--days", "30",
                              "--contract", "CT-2026-001", "--reason", "signed contract"])
    assert result.exit_code == 0, result.stderr
    key = result.stdout.strip()
    assert key.startswith("eyJpbnN0YWxsSWQiOi") and "\n" not in key
    assert "seq 1" in result.stderr
    verified = cli.invoke(args=["license", "verify", key])
    assert verified.exit_code == 0
    terms = json.loads(verified.stdout)
    assert terms["installId"] == INSTALL_ID and terms["kid"] == "2026-11-a"
    assert terms["license"]["channel"] == "offline-contract"
    assert terms["license"]["reference"] == "CT-2026-001" and terms["license"]["aku"] == 40
    expires = product_key.parse_time(terms["license"]["expiresAt"])
    assert timedelta(days=29, hours=23) < expires - datetime.now(timezone.utc) <= timedelta(days=30)
    with app.app_context():
        event = db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "key_issued"))
        assert event.install_id == INSTALL_ID and event.detail == "signed contract"


def test_issue_allocates_seq_per_install_and_supersedes(app, cli):
    args = ["license", "issue", "--aku", "10", "--days", "5", "--contract", "C"]
    for install_id in (INSTALL_ID, INSTALL_ID, "a" * 32, INSTALL_ID):
        assert cli.invoke(args=args + ["--install-id", install_id]).exit_code == 0
    with app.app_context():
        rows = db.session.scalars(db.select(IssuedKey).order_by(IssuedKey.issued_at, IssuedKey.seq)).all()
        mine = sorted((r.seq, r.status) for r in rows if r.install_id == INSTALL_ID)
        assert mine == [(1, "superseded"), (2, "superseded"), (3, "active")]
        assert [r.seq for r in rows if r.install_id == "a" * 32] == [1]


def test_issue_trial_extension(cli):
    result = cli.invoke(args=["license", "issue", "--install-id", INSTALL_ID, "--aku", "14", "--days", "14",
                              "--contract", "TRIAL-EXT-7", "--type", "trial-extension"])
    terms = json.loads(cli.invoke(args=["license", "verify", result.stdout.strip()]).stdout)
    assert terms["license"]["type"] == "trial-extension"


@pytest.mark.parametrize("args, message", [
    (["--install-id", "F0D3"], "--install-id: The install ID must be 32 hexadecimal digits"),
    (["--install-id", "g" * 32], "32 hexadecimal digits"),
    (["--install-id", INSTALL_ID, "--aku", "0"], "--aku: AKU must be a whole number from 1 to 1,000,000."),
    (["--install-id", INSTALL_ID, "--aku", "\u00b2"], "--aku: AKU must be a whole number"),  # passes str.isdigit()
    (["--install-id", INSTALL_ID, "--aku", "\uff11"], "--aku: AKU must be a whole number"),  # a fullwidth 1
    (["--install-id", INSTALL_ID, "--aku", "1000001"], "--aku: AKU must be a whole number"),
    (["--install-id", INSTALL_ID, "--days", "0"], "--days: Days must be a whole number from 1 to 3660."),
    (["--install-id", INSTALL_ID, "--days", "3661"], "--days: Days must be a whole number from 1 to 3660."),
    (["--install-id", INSTALL_ID, "--contract", " "], "--contract: Give the contract number"),
    (["--install-id", INSTALL_ID, "--contract", "C" * 129], "--contract: The reference has at most 128 characters."),
    # Issue 11: the page's guard refuses control characters; the command, by the same rule.
    (["--install-id", INSTALL_ID, "--contract", "C\x1b[31m"], "--contract: The reference holds a control character (U+001B)"),
    (["--install-id", INSTALL_ID, "--reason", "r\x07"], "--reason: The reason holds a control character (U+0007)"),
    (["--install-id", INSTALL_ID, "--aku", "\u00b2"], "--aku: AKU must be a whole number"),  # "²".isdigit()
])
def test_issue_refuses_bad_input(cli, args, message):
    base = {"--aku": "1", "--days": "1", "--contract": "C"}
    full = list(args)
    for name, value in base.items():
        if name not in full:
            full += [name, value]
    result = cli.invoke(args=["license", "issue"] + full)
    assert result.exit_code == 2 and message in (result.stderr + result.output)


def test_verify_refuses_a_tampered_key(cli):
    key = cli.invoke(args=["license", "issue", "--install-id", INSTALL_ID, "--aku", "4", "--days", "3",
                           "--contract", "C"]).stdout.strip()
    import base64

    doc = json.loads(base64.b64decode(key))
    doc["license"]["aku"] = 4000
    forged = base64.b64encode(json.dumps(doc).encode()).decode()
    result = cli.invoke(args=["license", "verify", forged])
    assert result.exit_code == 1 and "signature_invalid" in result.stderr and result.stdout == ""
    result = cli.invoke(args=["license", "verify", "not a key"])
    assert result.exit_code == 1 and "malformed_key" in result.stderr


@pytest.mark.parametrize("text", ["not a key", "eyJpbnN0YWxsSWQiOiJmMGQz", "DEMO-AKU20-READY-7K3Q"])
def test_verify_prints_the_precise_reason_for_support(cli, text):
    with pytest.raises(product_key.ProductKeyError) as refused:
        product_key.decode(text)
    result = cli.invoke(args=["license", "verify", text])
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == (f"invalid (malformed_key): {refused.value.message}\n"
                             f"reason: {refused.value.details['reason']}\n")


def test_verify_prints_the_reason_of_a_forged_signature(cli):
    key = cli.invoke(args=["license", "issue", "--install-id", INSTALL_ID, "--aku", "4", "--days", "3",
                           "--contract", "C"]).stdout.strip()
    import base64

    doc = json.loads(base64.b64decode(key))
    doc["license"]["aku"] = 4000
    result = cli.invoke(args=["license", "verify", base64.b64encode(json.dumps(doc).encode()).decode()])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == "reason: the signature does not verify"


def test_verify_without_a_reason_prints_only_the_message(environment_app):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    now = datetime.now(timezone.utc)
    terms = product_key.License(id="8d4f1c9e-3b9a-4a41-9f0e-2f7b1a6c0d55", seq=1, type="subscription",
                                channel="offline-contract", reference="C", product="P", aku=4,
                                issued_at=now, not_before=now, expires_at=now + timedelta(days=3))
    key = product_key.sign(INSTALL_ID, terms, "dev-1234", Ed25519PrivateKey.generate())
    result = environment_app.test_cli_runner().invoke(args=["license", "verify", key])
    assert result.exit_code == 1
    said = result.stderr.splitlines()
    assert said[0].startswith("warning: LICENSE_PUBLIC_KEYS is not set")  # why nothing verifies here
    assert said[1].startswith("invalid (signature_invalid): This key was signed with a development key")
    assert len(said) == 2


def test_users_create_and_token(app, cli):
    result = cli.invoke(args=["users", "create", "ops@example.com", "--role", "operator", "--password-stdin"],
                        input="a long password\n")
    assert result.exit_code == 0, result.stderr
    token = cli.invoke(args=["users", "token", "ops@example.com"])
    assert token.exit_code == 0 and token.stdout.startswith("lic_") and "shown only this once" in token.stderr
    client = app.test_client()
    assert client.post("/login", data={"email": "ops@example.com", "password": "a long password"}).status_code == 303
    revoked = cli.invoke(args=["users", "token", "ops@example.com", "--revoke"])
    assert revoked.exit_code == 0 and "Revoked 1" in revoked.stderr
    assert cli.invoke(args=["users", "token", "nobody@example.com"]).exit_code == 2
    bad = cli.invoke(args=["users", "create", "x@example.com", "--role", "operator", "--password-stdin"], input="short\n")
    assert bad.exit_code == 2 and "at least" in bad.stderr


def test_the_standalone_apps_users_group_is_also_license_users(app, cli):
    """`flask license users ...` in every app (a host console has only that one); the standalone
    app's `flask users ...` is the same group."""
    assert app.cli.commands["users"] is app.cli.commands["license"].commands["users"]
    made = cli.invoke(args=["license", "users", "create", "ops@example.com", "--role", "operator",
                            "--password-stdin"], input="a long password\n")
    assert made.exit_code == 0 and "Created ops@example.com" in made.stderr
    assert cli.invoke(args=["users", "create", "ops@example.com", "--role", "operator", "--password-stdin"],
                      input="a long password\n").exit_code == 2  # already made: the same accounts
    token = cli.invoke(args=["license", "users", "token", "ops@example.com"])
    assert token.exit_code == 0 and token.stdout.startswith("lic_")
    revoked = cli.invoke(args=["users", "token", "ops@example.com", "--revoke"])
    assert revoked.exit_code == 0 and "Revoked 1" in revoked.stderr


@pytest.fixture
def environment_app(tmp_path):
    from webapp import create_app
    from webapp.config import TestConfig

    config = TestConfig().__dict__.copy()
    config.update(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'env.db'}", LICENSE_ROLE="environment",
                  LICENSE_INSTANCE_PATH=str(tmp_path))
    app = create_app(config)
    with app.app_context():
        db.create_all()
    return app


def test_vendor_commands_exit_2_in_an_environment(environment_app):
    cli = environment_app.test_cli_runner()
    for args in (["license", "keygen"], ["license", "public-keys"],
                 ["license", "issue", "--install-id", INSTALL_ID, "--aku", "1", "--days", "1", "--contract", "C"]):
        result = cli.invoke(args=args)
        assert result.exit_code == 2 and "belongs to the vendor side" in result.stderr


def _vendor_env(tmp_path, **env):
    """A vendor outside the demo, on its own SQLite file."""
    full_env = dict(os.environ, LICENSE_INSTANCE_PATH=str(tmp_path), SECRET_KEY="s", LICENSE_DATA_KEY="d",
                    LICENSE_SIGNING_KEY_PASSPHRASE="p", LICENSE_ROLE="vendor",
                    DATABASE_URL=f"sqlite:///{tmp_path / 'v.db'}")
    full_env.update(env)
    return full_env


def _run(tmp_path, *args, input=None, **env):
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], env=_vendor_env(tmp_path, **env),
                          input=input, capture_output=True, text=True, timeout=60)


def _serve(tmp_path, **env):
    """The app made as a WSGI server makes it (gunicorn imports `wsgi:app`): it serves."""
    return subprocess.run([sys.executable, "-c", "import wsgi"], cwd=ROOT, env=_vendor_env(tmp_path, **env),
                          capture_output=True, text=True, timeout=60)


def test_vendor_serving_without_a_key_generates_a_dev_key_and_warns(tmp_path):
    assert _run(tmp_path, "db", "upgrade").returncode == 0
    served = _serve(tmp_path)
    assert served.returncode == 0, served.stderr
    assert "generated development key 'dev-" in served.stderr
    assert f"Run `{PREFIX} license keygen` for a production key." in served.stderr
    result = _run(tmp_path, "license", "public-keys", "--include-dev")
    assert result.returncode == 0 and result.stderr == ""
    assert list(json.loads(result.stdout))[0].startswith("dev-")


def test_a_command_makes_a_dev_key_only_when_it_signs(tmp_path):
    assert _run(tmp_path, "db", "upgrade").returncode == 0
    created = _run(tmp_path, "users", "create", "x@example.com", "--role", "issuer", "--password-stdin",
                   input="a long password\n")
    assert created.returncode == 0 and created.stderr == "Created x@example.com with role issuer.\n"
    result = _run(tmp_path, "license", "public-keys")
    # Nothing to print yet: an empty file would ship an environment that trusts nothing.
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == f"error: there is no signing key to print: run `{PREFIX} license keygen` first\n"
    issued = _run(tmp_path, "license", "issue", "--install-id", INSTALL_ID, "--aku", "4", "--days", "3",
                  "--contract", "C-1")
    assert issued.returncode == 0, issued.stderr
    assert issued.stderr.startswith("warning: no signing key configured; generated development key 'dev-")
    assert issued.stdout.startswith("eyJpbnN0YWxsSWQiOi")
    # Outside the demo a development key is left out of what ships, and the command says so.
    listed = _run(tmp_path, "license", "public-keys")
    assert listed.returncode == 1 and listed.stdout == ""
    assert re.match(r"Left out development key\(s\) dev-\w+: environments refuse keys they signed", listed.stderr)


def test_require_signing_key_refuses_to_serve_but_keygen_runs(tmp_path):
    assert _run(tmp_path, "db", "upgrade").returncode == 0
    served = _serve(tmp_path, LICENSE_REQUIRE_SIGNING_KEY="1")
    assert served.returncode != 0 and f"run `{PREFIX} license keygen` first" in served.stderr
    issued = _run(tmp_path, "license", "issue", "--install-id", INSTALL_ID, "--aku", "4", "--days", "3",
                  "--contract", "C-1", LICENSE_REQUIRE_SIGNING_KEY="1")
    assert issued.returncode == 1 and issued.stdout == ""
    assert issued.stderr == ("error: LICENSE_REQUIRE_SIGNING_KEY=1 and there is no active signing key: "
                             f"run `{PREFIX} license keygen` first\n")
    made = _run(tmp_path, "license", "keygen", LICENSE_REQUIRE_SIGNING_KEY="1")
    assert made.returncode == 0, made.stderr
    assert _serve(tmp_path, LICENSE_REQUIRE_SIGNING_KEY="1").returncode == 0


def test_running_for_real_ships_exactly_the_production_key(tmp_path):
    """README's "Running for real", on a fresh SQLite database, with its settings: vendor-keys.json
    holds the key `license keygen` made, and no development key."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Running for real\n\n```sh\n(.*?)```", readme, re.S).group(1)
    exported = dict(re.findall(r"\b([A-Z_]+)=(\S+)", " ".join(l for l in block.splitlines() if l.startswith("export "))))
    assert set(exported) == {"SECRET_KEY", "LICENSE_DATA_KEY", "LICENSE_SIGNING_KEY_PASSPHRASE", "DATABASE_URL",
                             "LICENSE_ROLE", "RATELIMIT_STORAGE_URI"}
    # Placeholders (`...`, `redis://...`) unset: Redis is for serving (tests/production/), not commands.
    env = {name: ("" if value.endswith("...") else value) for name, value in exported.items()}
    env.update(SECRET_KEY="a real secret", LICENSE_DATA_KEY="a real data key",
               LICENSE_SIGNING_KEY_PASSPHRASE="a real passphrase", DATABASE_URL=f"sqlite:///{tmp_path / 'vendor.db'}")
    assert env["LICENSE_ROLE"] == "vendor"
    commands = [l.split("  #")[0].strip() for l in block.splitlines() if l.startswith(PREFIX + " ")]
    steps = commands[:[c.split()[3:5] for c in commands].index(["license", "public-keys"]) + 1]
    assert [c.split(">")[0].split()[3:5] for c in steps] == [["db", "upgrade"], ["license", "keygen"],
                                                             ["license", "public-keys"]]
    outputs = {}
    for command in steps:
        words, _, target = command.partition(">")
        result = _flask(tmp_path, *words.split()[3:], **env)
        assert result.returncode == 0, (command, result.stderr)
        outputs[tuple(words.split()[3:5])] = result
        if target.strip():
            (tmp_path / target.strip()).write_text(result.stdout)
    kid = outputs[("license", "keygen")].stdout.strip()
    assert not kid.startswith("dev-")
    # keygen says what it made and nothing else: no development key made first, no "run keygen".
    assert outputs[("license", "keygen")].stderr == (
        f"New active signing key {kid}. Ship what `{PREFIX} license public-keys` prints with environment builds.\n")
    assert outputs[("license", "public-keys")].stderr == ""
    shipped = json.loads((tmp_path / "vendor-keys.json").read_text())
    assert list(shipped) == [kid] and shipped[kid].startswith("-----BEGIN PUBLIC KEY-----")
    assert product_key.load_public_keys(shipped)


def test_keygen_after_serving_with_a_dev_key_ships_only_the_production_key(tmp_path):
    """A vendor that started serving before its first keygen has a dev- key: keygen retires it,
    and public-keys leaves it out unless asked."""
    assert _run(tmp_path, "db", "upgrade").returncode == 0
    assert "generated development key" in _serve(tmp_path).stderr
    kid = _run(tmp_path, "license", "keygen").stdout.strip()
    listed = _run(tmp_path, "license", "public-keys")
    assert listed.returncode == 0 and list(json.loads(listed.stdout)) == [kid]
    assert listed.stderr.startswith("Left out development key(s) dev-")
    both = json.loads(_run(tmp_path, "license", "public-keys", "--include-dev").stdout)
    assert kid in both and len(both) == 2 and any(k.startswith("dev-") for k in both)


def test_missing_data_key_is_named(tmp_path):
    result = _run(tmp_path, "license", "public-keys", LICENSE_DATA_KEY="")
    assert result.returncode != 0 and "LICENSE_DATA_KEY is not set" in result.stderr


def test_demo_secrets_are_generated_with_mode_0600(tmp_path):
    from webapp import instance_secrets

    first = instance_secrets.load_or_create(tmp_path)
    assert set(first) == set(instance_secrets.KEYS) and all(len(v) >= 32 for v in first.values())
    path = tmp_path / instance_secrets.FILENAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert instance_secrets.load_or_create(tmp_path) == first


def test_an_environment_without_public_keys_says_so_where_it_matters(tmp_path):
    env = dict(LICENSE_ROLE="environment", DATABASE_URL=f"sqlite:///{tmp_path / 'e.db'}")
    upgraded = _run(tmp_path, "db", "upgrade", **env)
    assert upgraded.returncode == 0 and "LICENSE_PUBLIC_KEYS" not in upgraded.stderr
    warning = ("warning: LICENSE_PUBLIC_KEYS is not set: this environment trusts no vendor key, so no product "
               f"key can be activated. Set it to the file `{PREFIX} license public-keys` prints on the vendor side.")
    served = _serve(tmp_path, **env)
    assert served.returncode == 0 and served.stderr == warning + "\n"
    status = _run(tmp_path, "license", "status", **env)
    assert status.returncode == 0 and status.stderr.splitlines()[0] == warning
    verified = _run(tmp_path, "license", "verify", "not a key", **env)
    assert verified.returncode == 1 and verified.stderr.splitlines()[0] == warning
    keys = tmp_path / "keys.json"
    keys.write_text("{}")
    status = _run(tmp_path, "license", "status", LICENSE_PUBLIC_KEYS=str(keys), **env)
    assert status.returncode == 0 and "LICENSE_PUBLIC_KEYS" not in status.stderr


# -- Commands as README.md writes them: `.venv/bin/flask --app wsgi ...`, saying only what they mean

ROOT = Path(__file__).resolve().parent.parent
# The venv's flask, as README.md runs it from the clone (".venv/bin/flask" under `make test`).
FLASK_BIN = os.path.relpath(Path(sys.executable).parent / "flask", ROOT)
PREFIX = ".venv/bin/flask --app wsgi"
CONSOLE_PREFIX = ".venv/bin/flask --app examples.host_console"  # README's example host console


def _flask(tmp_path, *args, input=None, app="wsgi", **env):
    """FLASK_BIN --app wsgi ARGS from the clone, as a person runs it: the demo unless env says
    otherwise, its instance folder in tmp_path."""
    full_env = {k: v for k, v in os.environ.items()
                if not k.startswith(("LICENSE_", "FLASK_", "MARKETPLACE_", "ALIBABA_"))
                and k not in ("SECRET_KEY", "DATABASE_URL")}
    full_env.update(LICENSE_INSTANCE_PATH=str(tmp_path), **env)
    return subprocess.run([FLASK_BIN, "--app", app, *args], cwd=ROOT, env=full_env, input=input,
                          capture_output=True, text=True, timeout=120)


def _said(result):
    """The lines a command wrote for people."""
    return [line for line in result.stderr.splitlines() if line]


def test_demo_commands_print_no_alembic_lines(tmp_path):
    first = _flask(tmp_path, "db", "upgrade")
    assert first.returncode == 0, first.stderr
    assert "INFO" not in first.stderr and "alembic" not in first.stderr, first.stderr
    said = _said(first)
    # The first start lists what it made, with commands written the way this one was run; the
    # note on LICENSE_ROLE=both is for whoever starts the server, and no signing key is made for
    # a command that signs nothing.
    assert said[0] == (f"Demo accounts (passwords shown once; `{FLASK_BIN} --app wsgi users create EMAIL "
                       "--role ROLE` makes more):")
    assert [line.split()[:2] for line in said[1:3]] == [["admin", "admin@example.com"],
                                                        ["operator", "operator@example.com"]]
    # The demo migrated at start, so the explicit upgrade has nothing left to do, and says so.
    assert re.fullmatch(r"Database already at \w+: nothing to upgrade\.", said[3]) and len(said) == 4

    token = _flask(tmp_path, "users", "token", "admin@example.com")
    assert token.returncode == 0 and token.stdout.startswith("lic_")
    assert _said(token) == ["New API token for admin@example.com (admin); it is shown only this once:"]

    status = _flask(tmp_path, "license", "status")
    assert status.returncode == 0 and json.loads(status.stdout)["license"]["status"] == "trial"
    assert len(_said(status)) == 1 and _said(status)[0].startswith("Install ID ")

    created = _flask(tmp_path, "users", "create", "ops@example.com", "--role", "operator", "--password-stdin",
                     input="a long password\n")
    assert created.returncode == 0 and created.stdout == ""
    assert _said(created) == ["Created ops@example.com with role operator."]

    # The first command that signs makes the demo's development key, and says how to make a real one.
    issued = _flask(tmp_path, "license", "issue", "--install-id", INSTALL_ID, "--aku", "4", "--days", "3",
                    "--contract", "C-1")
    assert issued.returncode == 0, issued.stderr
    said = _said(issued)
    assert said[0].startswith("warning: no signing key configured; generated development key 'dev-")
    assert said[0].endswith(f"Run `{FLASK_BIN} --app wsgi license keygen` for a production key.")
    assert said[1].startswith(f"Issued key seq 1 for {INSTALL_ID}") and len(said) == 2
    # In the demo, public-keys lists its development key (the demo's environment trusts it).
    listed = _flask(tmp_path, "license", "public-keys")
    assert listed.returncode == 0 and listed.stderr == "" and list(json.loads(listed.stdout))[0].startswith("dev-")


def test_keygen_on_a_fresh_demo_makes_only_the_key_it_names(tmp_path):
    made = _flask(tmp_path, "license", "keygen", "--kid", "2026-12-prod")
    assert made.returncode == 0 and made.stdout == "2026-12-prod\n"
    said = _said(made)
    assert "development key" not in made.stderr and said[0].startswith("Demo accounts")
    assert said[-1] == (f"New active signing key 2026-12-prod. Ship what `{FLASK_BIN} --app wsgi license "
                        "public-keys` prints with environment builds.")
    assert list(json.loads(_flask(tmp_path, "license", "public-keys").stdout)) == ["2026-12-prod"]


def test_the_demo_server_says_at_start_what_it_is(tmp_path):
    """`make run` (`flask run`) is the one flask command that serves: it prints the note on role
    both and makes the demo's signing key, as gunicorn does."""
    import signal
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LICENSE_", "FLASK_", "MARKETPLACE_", "ALIBABA_")) and k not in ("SECRET_KEY", "DATABASE_URL")}
    env.update(LICENSE_INSTANCE_PATH=str(tmp_path))
    server = subprocess.Popen([FLASK_BIN, "--app", "wsgi", "run", "--port", str(port)], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines = []
    try:
        deadline = datetime.now() + timedelta(seconds=60)
        while datetime.now() < deadline:
            line = server.stderr.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if "Running on" in line:
                break
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    text = "\n".join(lines)
    assert "Running on" in text, text
    assert "note: LICENSE_ROLE=both runs the vendor and environment sides in one process" in text
    assert "generated development key 'dev-" in text
    assert f"Run `{FLASK_BIN} --app wsgi license keygen` for a production key." in text


def test_running_a_command_is_told_from_serving(monkeypatch):
    from flask.cli import FlaskGroup, run_command

    from webapp.cli import running_a_command

    assert not running_a_command()  # gunicorn, wsgi, a host's factory, the tests
    info = ScriptInfo(app_import_path="wsgi")
    with click.Context(FlaskGroup(), info_name="flask", obj=info) as root:
        assert running_a_command()  # the app made to look up `license keygen`, `db upgrade`, ...
        with click.Context(run_command, parent=root, info_name="run"):
            assert not running_a_command()  # `flask run` makes it from within the command
    with click.Context(click.Command("jobs")):  # a click program of a host's, not the flask command
        assert not running_a_command()


def test_flask_db_upgrade_says_in_one_line_what_it_did(tmp_path):
    env = dict(SECRET_KEY="s", LICENSE_DATA_KEY="d", LICENSE_ROLE="environment",
               LICENSE_PUBLIC_KEYS=str(tmp_path / "keys.json"), DATABASE_URL=f"sqlite:///{tmp_path / 'e.db'}")
    (tmp_path / "keys.json").write_text("{}")
    result = _flask(tmp_path, "db", "upgrade", **env)
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"Database upgraded from empty to \w+ \(\d+ migrations\)\.\n", result.stderr), result.stderr
    again = _flask(tmp_path, "db", "upgrade", **env)
    assert re.fullmatch(r"Database already at \w+: nothing to upgrade\.\n", again.stderr), again.stderr


def _documented_commands():
    """Every flask command line in README.md and docs/*.md: in shell code blocks, in inline code,
    and the rows of README's CLI table. Yields (where, program and app, command words)."""
    program = re.compile(r"(?:(?<=^)|(?<=[\s(`]))([\w./-]*flask)\s+(?:(--app\s+\S+)\s*)?([^`\n)|>]*)")
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text()
        pieces = []
        for block in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.S | re.M):
            if block.group(1) in ("", "sh", "bash", "console"):
                pieces += block.group(2).splitlines()
        prose = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
        pieces += [span.replace("\n", " ") for span in re.findall(r"`([^`]+)`", prose)]
        for piece in pieces:
            for match in program.finditer(piece):
                yield f"{path.name}: {piece.strip()}", " ".join(filter(None, match.group(1, 2))), _words(match.group(3))
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index(f"| `{PREFIX}` ... |"):].split("\n\n")[0].splitlines()[2:]
    assert len(table) >= 5
    for row in table:
        yield f"README.md CLI table: {row[:40]}", PREFIX, _words(re.match(r"\| `([^`]*)`", row).group(1))


def _words(command):
    """The command's name: its leading lowercase words (`license reconcile [--issue]`)."""
    return re.match(r"((?:[a-z][a-z-]*(?:\s+|$))*)", command).group(1).split()


def test_every_documented_flask_command_runs_as_written(tmp_path):
    found = list(_documented_commands())
    assert len(found) > 20
    wrong = [where for where, program, _ in found if program not in (PREFIX, CONSOLE_PREFIX)]
    assert wrong == [], f"write commands as `{PREFIX} ...` (a bare `flask` fails on a fresh machine): {wrong}"
    groups = {}
    for where, program, words in found:
        if words and words != ["run"]:  # `.venv/bin/flask --app wsgi COMMAND` names none; Flask's own `run`
            assert len(words) >= 2, where
            groups.setdefault((program, words[0]), {})[words[1]] = where
    assert {group for program, group in groups if program == PREFIX} == {"db", "license", "users"}
    assert {group for program, group in groups if program == CONSOLE_PREFIX} == {"console", "license"}
    env = dict(SECRET_KEY="s", LICENSE_DATA_KEY="d", LICENSE_SIGNING_KEY_PASSPHRASE="p",
               DATABASE_URL=f"sqlite:///{tmp_path / 'help.db'}", CONSOLE_INSTANCE_PATH=str(tmp_path / "console"))
    for (program, group), commands in groups.items():
        app = program.split("--app ")[1]
        result = _flask(tmp_path, group, "--help", app=app, **env)
        assert result.returncode == 0, result.stderr
        listed = set(re.findall(r"^  ([a-z][a-z-]*)\s", result.stdout.split("Commands:")[1], re.M))
        missing = {where for name, where in commands.items() if name not in listed}
        assert not missing, f"no such command: {missing}"


def test_hints_are_written_the_way_the_command_was_run(monkeypatch, tmp_path):
    from webapp.cli import FLASK, command_line

    assert FLASK == PREFIX
    assert command_line("license keygen") == f"{PREFIX} license keygen"  # not the flask command: README's way
    monkeypatch.delenv("FLASK_APP", raising=False)
    with click.Context(click.Command("flask"), obj=ScriptInfo(app_import_path="wsgi")):
        monkeypatch.setattr(sys, "argv", [".venv/bin/flask", "--app", "wsgi", "license", "reconcile"])
        assert command_line("license reconcile --issue") == ".venv/bin/flask --app wsgi license reconcile --issue"
        monkeypatch.setenv("FLASK_APP", "wsgi")  # the app is named by the environment
        assert command_line("license keygen") == ".venv/bin/flask license keygen"
        program = tmp_path / "bin" / "flask"  # on PATH (a venv activated): its name alone
        program.parent.mkdir()
        program.write_text("#!/bin/sh\n")
        program.chmod(0o755)
        monkeypatch.setenv("PATH", str(program.parent))
        monkeypatch.setattr(sys, "argv", [str(program), "users", "token", "x@example.com"])
        assert command_line("users token EMAIL") == "flask users token EMAIL"
        monkeypatch.setattr(sys, "argv", ["/opt/python/lib/flask/__main__.py"])  # python -m flask
        assert command_line("users token EMAIL") == f"{PREFIX} users token EMAIL"


def test_the_login_page_names_the_command_that_makes_an_account(client):
    page = client.get("/login").get_data(as_text=True)
    assert f"<code>{PREFIX} users create EMAIL --role ROLE</code>" in page


def test_pages_and_api_messages_write_commands_as_the_readme(app, client, auth, monkeypatch):
    auth.login("admin")
    for url in ("/vendor/attention", "/vendor/demo-codes"):
        page = client.get(url).get_data(as_text=True)
        assert f"<code>{PREFIX} license reconcile</code>" in page, url
    anonymous = app.test_client().get("/api/v1/environment")
    assert anonymous.status_code == 401
    assert f"`{PREFIX} users token EMAIL`" in anonymous.get_json()["error"]["message"]

    from webapp.vendor_side import offline
    from webapp.vendor_side.rules import IssueError

    monkeypatch.setattr(signing_keys, "active_key", lambda: None)
    order = offline.read_order({"install_id": INSTALL_ID, "aku": "4", "days": "3", "contract": "C", "reason": "r"})
    with app.app_context(), pytest.raises(IssueError) as refused:
        offline.issue_offline(order, actor="t")
    assert refused.value.code == "signing_unavailable" and f"`{PREFIX} license keygen`" in refused.value.message


def test_no_bare_flask_command_is_suggested_to_people():
    """What pages, API answers and messages tell people to run is written as README.md writes it
    (`command_line()`, `license_command` in templates, or README's form): never a bare `flask ...`,
    which fails on a fresh clone. Docstrings and comments may say `flask license ...`."""
    import ast

    bare = re.compile(r"(?<![\w./-])flask (?:--app \S+ )?(?:db|license|users)\b")
    found = []
    for path in sorted((ROOT / "webapp").rglob("*.py")):
        tree = ast.parse(path.read_text())
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr)
                      and isinstance(node.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
                    and bare.search(node.value)):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    for path in sorted((ROOT / "templates").rglob("*.html")):
        text = re.sub(r"{#.*?#}", "", path.read_text(), flags=re.S)
        found += [f"{path.relative_to(ROOT)}: {m.group(0)}" for m in bare.finditer(text)]
    assert found == []
