"""gunicorn.conf.py: it loads, it refuses several workers counting rate limits each on their own,
and its access log never holds a query string (nor the Referer, which holds the previous page's).
SQLite and `memory://` here, no server needed; the same file serves the PostgreSQL and Redis runs."""
from __future__ import annotations

import subprocess
import sys

import pytest
import requests

from webapp import rate_limit_store

from .conftest import GUNICORN, ROOT, clean_environ, flask

CODE = "DEMO-AKU20-READY-7K3Q"


def production_env(tmp_path, **extra) -> dict:
    return clean_environ(SECRET_KEY="s", LICENSE_DATA_KEY="d" * 32, LICENSE_SIGNING_KEY_PASSPHRASE="p",
                         LICENSE_ROLE="vendor", LICENSE_INSTANCE_PATH=str(tmp_path / "instance"), **extra)


def printed_config(env: dict, *args: str) -> dict[str, str]:
    result = subprocess.run([GUNICORN, "-c", "gunicorn.conf.py", "--print-config", *args, "wsgi:app"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    settings = (line.split(" = ", 1) for line in result.stdout.splitlines() if " = " in line)
    return {name.strip(): value.strip() for name, value in settings}


def test_the_config_loads_with_its_settings(tmp_path):
    env = production_env(tmp_path, WEB_CONCURRENCY=3, RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/0",
                         LICENSE_BIND="0.0.0.0:8123")
    config = printed_config(env)
    assert config["workers"] == "3" and config["bind"] == "['0.0.0.0:8123']"
    assert (config["timeout"], config["graceful_timeout"]) == ("90", "30")
    assert config["accesslog"] == "-"
    for atom in ("%(r)s", "%(q)s", "%(f)s", "%(u)s"):
        assert atom not in config["access_log_format"]
    assert '"%(m)s %(U)s"' in config["access_log_format"]


def test_default_workers_one_with_memory_limits_several_with_redis(tmp_path):
    assert printed_config(production_env(tmp_path))["workers"] == "1"
    shared = printed_config(production_env(tmp_path, RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/0"))
    assert 2 <= int(shared["workers"]) <= 8


@pytest.mark.parametrize("args, extra", [([], {"WEB_CONCURRENCY": "3"}), (["-w", "3"], {}), (["--workers=3"], {})],
                         ids=["WEB_CONCURRENCY", "-w", "--workers"])
def test_several_workers_with_memory_limits_refuse_to_start_saying_what_to_set(tmp_path, args, extra):
    env = production_env(tmp_path, **extra)
    result = subprocess.run([GUNICORN, "-c", "gunicorn.conf.py", *args, "--bind", "127.0.0.1:0", "wsgi:app"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "3 workers with RATELIMIT_STORAGE_URI=memory://" in result.stderr
    assert "Set RATELIMIT_STORAGE_URI=redis://HOST:6379/0" in result.stderr
    assert "Booting worker" not in result.stderr  # refused before any worker started


def test_gunicorn_reads_the_file_by_itself_from_the_clones_directory(tmp_path):
    """`gunicorn -w 4 wsgi:app` (the README's old advice) picks up ./gunicorn.conf.py, so it refuses too."""
    result = subprocess.run([GUNICORN, "-w", "4", "--bind", "127.0.0.1:0", "wsgi:app"], cwd=ROOT,
                            env=production_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "4 workers with RATELIMIT_STORAGE_URI=memory://" in result.stderr


def test_the_app_refuses_too_when_served_with_web_concurrency_without_the_file(tmp_path):
    env = production_env(tmp_path, WEB_CONCURRENCY=2)
    result = subprocess.run([sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode != 0 and "2 workers with RATELIMIT_STORAGE_URI=memory://" in result.stderr
    # Commands are not servers: the schema can still be made with the same environment.
    assert flask(env, "db", "upgrade").returncode == 0


@pytest.mark.parametrize("workers, uri, demo, refused", [
    (1, "memory://", False, False),
    (4, "memory://", True, False),
    (4, None, False, True),
    (4, "memory://", False, True),
    (4, "redis://127.0.0.1:6379/0", False, False),
    (4, "rediss://cache.internal:6380/1", False, False),
])
def test_which_combinations_are_refused(workers, uri, demo, refused):
    assert (rate_limit_store.problem(workers, uri, demo=demo) is not None) is refused


def test_one_worker_with_memory_limits_and_the_demo_with_several_start(tmp_path, serve):
    single = serve(production_env(tmp_path))
    assert len(single.workers()) == 1
    demo = clean_environ(LICENSE_INSTANCE_PATH=str(tmp_path / "demo"), WEB_CONCURRENCY=2)
    flask(demo, "db", "upgrade")
    assert len(serve(demo).workers()) == 2


def test_the_access_log_holds_no_query_string(tmp_path, serve):
    env = production_env(tmp_path)
    flask(env, "db", "upgrade")
    server = serve(env)
    searched = requests.get(server.url(f"/vendor/keys?q={CODE}"), allow_redirects=False, timeout=30,
                            headers={"Referer": server.url(f"/vendor/keys?q={CODE}&page=2")})
    assert searched.status_code == 302  # to the login page, the search kept in ?next=
    requests.get(server.url(f"/healthz?code={CODE}"), timeout=30)
    log = server.access_log()
    assert '"GET /vendor/keys" 302' in log and '"GET /healthz" 200' in log
    assert CODE not in log and "?" not in log and "q=" not in log
