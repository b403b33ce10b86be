"""The README's "Running for real", line by line as written, on the test PostgreSQL and Redis.

The venv line is the one the suite already runs in; the `export` lines name the settings, which
the test gives real values (and checks it gives every one of them); every other line runs as
written from the clone's directory, `.venv/bin/` being the suite's own venv. The last one starts
gunicorn, which must come up ready: the production signing key loads, the database answers.
"""
from __future__ import annotations

import re
import shlex
import signal
import subprocess

import requests

from .conftest import BIN, PASSWORD, ROOT, Server, clean_environ, free_port, wait_until


def readme_block() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Running for real", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def command(line: str) -> tuple[list[str], str | None]:
    """The words of a line (its comment dropped, `.venv/bin/` the suite's venv) and its `>` file."""
    words = shlex.split(line, comments=True)
    target = None
    if ">" in words:
        at = words.index(">")
        words, target = words[:at], words[at + 1]
    assert words[0].startswith(".venv/bin/"), line
    return [str(BIN / words[0].removeprefix(".venv/bin/")), *words[1:]], target


def test_the_readmes_running_for_real_runs_as_written(tmp_path, pg_url, redis_url):
    lines = readme_block()
    assert lines[0].startswith("python3 -m venv .venv && .venv/bin/pip install -r requirements.txt")
    exports = [line for line in lines if line.startswith("export ")]
    named = {word.split("=", 1)[0] for line in exports for word in shlex.split(line, comments=True)[1:]}
    port = free_port()
    env = clean_environ(
        SECRET_KEY="readme-secret", LICENSE_DATA_KEY="readme-data-key-0123456789abcdef",
        LICENSE_SIGNING_KEY_PASSPHRASE="readme passphrase", DATABASE_URL=pg_url, LICENSE_ROLE="vendor",
        RATELIMIT_STORAGE_URI=redis_url, LICENSE_INSTANCE_PATH=str(tmp_path / "instance"),
        LICENSE_BIND=f"127.0.0.1:{port}")
    assert named == {"SECRET_KEY", "LICENSE_DATA_KEY", "LICENSE_SIGNING_KEY_PASSPHRASE", "DATABASE_URL",
                     "LICENSE_ROLE", "RATELIMIT_STORAGE_URI"}
    steps = [line for line in lines[1:] if not line.startswith("export ")]
    assert steps[-1] == ".venv/bin/gunicorn -c gunicorn.conf.py wsgi:app"

    for line in steps[:-1]:
        words, target = command(line)
        if target:  # written beside the test's files, not into the clone
            with open(tmp_path / target, "w") as out:
                result = subprocess.run(words, cwd=ROOT, env=env, stdout=out, stderr=subprocess.PIPE, text=True,
                                        timeout=120)
        else:
            # `users create` asks for the password twice; in a session of its own there is no
            # terminal, so it reads it from stdin.
            result = subprocess.run(words, cwd=ROOT, env=env, input=f"{PASSWORD}\n{PASSWORD}\n", capture_output=True,
                                    text=True, timeout=120, start_new_session=True)
        assert result.returncode == 0, f"{line}: {result.stderr}"
    keys = (tmp_path / "vendor-keys.json").read_text()
    assert '"20' in keys and "dev-" not in keys  # the production key alone

    words, _ = command(steps[-1])
    out, err = tmp_path / "gunicorn.out", tmp_path / "gunicorn.err"
    with open(out, "w") as stdout, open(err, "w") as stderr:
        proc = subprocess.Popen(words, cwd=ROOT, env=env, stdout=stdout, stderr=stderr)
    server = Server(proc, port, out, err)
    try:
        def ready():
            if proc.poll() is not None:
                raise AssertionError(f"gunicorn exited {proc.returncode}: {server.error_log()}")
            try:
                return requests.get(server.url("/readyz"), timeout=5)
            except requests.ConnectionError:
                return None

        answer = wait_until(ready, "gunicorn to answer /readyz")
        assert answer.status_code == 200, answer.text
        checks = answer.json()["checks"]
        assert checks["signing_key"]["ok"] and "dev-" not in checks["signing_key"]["message"]
        assert len(server.workers()) >= 2  # Redis is set: several workers by default
        page = requests.get(server.url("/login"), timeout=30)
        # Production posture: the session cookie is Secure and HSTS is on. Behind the balancer's
        # TLS a browser returns that cookie; over this loopback HTTP the test returns it by hand.
        assert "Secure" in page.headers["Set-Cookie"] and "Strict-Transport-Security" in page.headers
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
        signed_in = requests.post(server.url("/login"), data={"email": "staff@example.com", "password": PASSWORD,
                                                              "csrf_token": token},
                                  cookies={"session": page.cookies["session"]}, allow_redirects=False, timeout=30)
        assert signed_in.status_code in (302, 303), signed_in.text
        home = requests.get(server.url(signed_in.headers["Location"]) if signed_in.headers["Location"].startswith("/")
                            else signed_in.headers["Location"], cookies={"session": signed_in.cookies["session"]},
                            timeout=30)
        assert home.status_code == 200 and "staff@example.com" in home.text
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=40)
