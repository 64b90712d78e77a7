"""Every Procfile process, started exactly as the Procfile starts it (its command line run by
a shell, no DJANGO_SETTINGS_MODULE), runs the production settings: without its secrets it
exits non-zero with one line saying what to set; with them it runs with DEBUG off.
manage.py, `make run` (Procfile.dev) and the tests stay on their own settings."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.core import signing
from django.db import connection

from suppression import tokens
from tests.services import free_port

ROOT = Path(__file__).resolve().parents[2]
REFUSAL = "Mailroom production settings refuse to start:"
SECRETS = {
    "SECRET_KEY": "production-" + "k3y" * 20,
    "MAILROOM_BASE_URL": "https://mail.example.com",
    "ANYMAIL": json.dumps({"WEBHOOK_SECRET": "hook:a-long-random-webhook-password"}),
}
DEV_KEY = "dev-only-not-secret-mailroom"


def procfile(name="Procfile"):
    lines = (ROOT / name).read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def command(process, tmp_path):
    line = procfile()[process]
    # beat's schedule file: under the test's folder, not the machine's shared /tmp.
    return line.replace("/tmp/celerybeat-schedule", str(tmp_path / "celerybeat-schedule"))


def environment(port=None, **extra):
    """This test run's environment without any settings module or secret; the test database."""
    unset = {"DJANGO_SETTINGS_MODULE", "DEBUG", "MAILROOM_BEHIND_PROXY", "ALLOWED_HOSTS", *SECRETS}
    env = {name: value for name, value in os.environ.items() if name not in unset}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    if os.environ.get("DATABASE_URL"):
        env["DATABASE_URL"] = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + f"/{connection.settings_dict['NAME']}"
    env["WEB_CONCURRENCY"] = env["ACCOUNT_CONCURRENCY"] = env["PROMOTIONAL_CONCURRENCY"] = "1"
    if port:
        env["PORT"] = str(port)
    return env | extra


def start(process, tmp_path, env):
    log = open(tmp_path / f"{process}.log", "w+b")  # noqa: SIM115 (closed by stop())
    popen = subprocess.Popen(
        ["sh", "-c", "exec " + command(process, tmp_path)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    popen.log = log
    return popen


def output(popen):
    if not popen.log.closed:
        popen.log.flush()
    return Path(popen.log.name).read_text(errors="replace")


def stop(popen):
    if popen.poll() is None:
        os.killpg(popen.pid, signal.SIGTERM)
        try:
            popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(popen.pid, signal.SIGKILL)
            popen.wait()
    popen.log.close()


def wait_for(predicate, popen, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if popen.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError(f"not ready:\n{output(popen)}")


@pytest.fixture
def purge_queues(redis_url):
    """Workers and beat here use the test Redis: leave no task behind for other tests."""
    from config.celery import app

    app.control.purge()
    yield
    app.control.purge()


@pytest.mark.parametrize("process", ["release", "web", "worker-account", "worker-promotional", "beat"])
def test_every_procfile_process_refuses_to_start_without_its_secrets(process, tmp_path):
    popen = start(process, tmp_path, environment(free_port()))
    try:
        popen.wait(timeout=90)
    finally:
        stop(popen)
    text = output(popen)
    assert popen.returncode != 0, text
    message = [line for line in text.splitlines() if REFUSAL in line][-1]  # one line names all three
    assert "set SECRET_KEY" in message and "https://" in message and "WEBHOOK_SECRET" in message


@pytest.mark.parametrize(
    "wrong",
    [
        {"SECRET_KEY": DEV_KEY},
        {"MAILROOM_BASE_URL": "http://mail.example.com"},
        {"ANYMAIL": json.dumps({"MAILGUN_WEBHOOK_SIGNING_KEY": "k"})},
    ],
    ids=["public-dev-key", "http-base-url", "no-webhook-secret"],
)
def test_production_refuses_a_public_key_a_plain_http_address_and_open_webhooks(wrong, tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--settings=config.settings.production"],
        cwd=ROOT,
        env=environment() | SECRETS | wrong,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert REFUSAL in result.stderr


def test_switching_webhooks_off_lets_production_start_without_their_secret(tmp_path):
    env = environment() | SECRETS | {"ANYMAIL": "{}", "MAILROOM_WEBHOOKS_ENABLED": "0"}
    code = "from django.conf import settings; print(settings.SETTINGS_MODULE, settings.DEBUG)"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--settings=config.settings.production", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.splitlines()[-1] == "config.settings.production False", result.stderr


def get(port, path, headers=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def token_signed_with(key, salt, payload):
    return signing.Signer(key=key, salt=salt).sign(payload)


def test_web_runs_production_settings_behind_a_proxy(postgres, tmp_path):
    port = free_port()
    env = environment(port, MAILROOM_BEHIND_PROXY="1", ALLOWED_HOSTS="127.0.0.1") | SECRETS
    web = start("web", tmp_path, env)
    https = {"X-Forwarded-Proto": "https"}
    try:
        wait_for(lambda: get_or_none(port, "/healthz", https) == 200, web)
        status, _, body = get(port, "/no-such-page/", https)
        assert status == 404
        assert "DEBUG" not in body and "Traceback" not in body and "URLconf" not in body  # no debug page

        # A token someone signed with the public dev key is not ours in production.
        genuine = tokens.make_token("ada@example.com", 7)
        dev_payload = genuine.rsplit(":", 1)[0]
        for forged in (
            token_signed_with(DEV_KEY, tokens.SALT, dev_payload),
            signing.Signer(key=DEV_KEY, salt=tokens.FORMAT_1_SALT).sign_object(["ada@example.com", 7]),
        ):
            status, _, body = get(port, f"/u/{forged}/", https)
            assert status == 400 and "This link is not valid" in body

        # Without the proxy's header the request is plain http, which production redirects.
        status, headers, _ = get(port, "/healthz")
        assert status == 301 and headers["Location"].startswith("https://")
    finally:
        stop(web)


def test_web_trusts_x_forwarded_proto_only_behind_a_proxy(postgres, tmp_path):
    port = free_port()
    web = start("web", tmp_path, environment(port, ALLOWED_HOSTS="127.0.0.1") | SECRETS)
    try:
        wait_for(lambda: get_or_none(port, "/healthz") == 301, web)
        status, headers, _ = get(port, "/healthz", {"X-Forwarded-Proto": "https"})
        assert status == 301 and headers["Location"].startswith("https://")  # the header was not believed
    finally:
        stop(web)


def get_or_none(port, path, headers=None):
    try:
        return get(port, path, headers)[0]
    except OSError:
        return None


def test_workers_run_production_settings(postgres, purge_queues, tmp_path):
    from config.celery import app

    env = environment() | SECRETS
    workers = {name: start(name, tmp_path, env) for name in ("worker-account", "worker-promotional")}
    try:
        hostname = socket.gethostname()
        for process, queue in (("worker-account", "account"), ("worker-promotional", "promotional")):
            node = f"{queue}@{hostname}"
            replies = {}

            def answered(node=node, replies=replies):
                replies.update(app.control.inspect(destination=[node], timeout=2).conf() or {})
                return node in replies

            wait_for(answered, workers[process], timeout=90)
            conf = replies[node]
            assert (conf["SETTINGS_MODULE"], conf["DEBUG"]) == ("config.settings.production", False)
            assert conf["MAILROOM_BASE_URL"] == "https://mail.example.com"
    finally:
        for popen in workers.values():
            stop(popen)


def test_beat_and_release_run_with_their_secrets(postgres, purge_queues, tmp_path):
    env = environment() | SECRETS
    beat = start("beat", tmp_path, env)
    try:
        # The broker line comes from the Django settings beat loaded: production's, or it would have exited.
        wait_for(lambda: "broker -> redis://" in output(beat), beat)
        time.sleep(1)
        assert beat.poll() is None, output(beat)
    finally:
        stop(beat)
    release = start("release", tmp_path, env)
    try:
        assert release.wait(timeout=120) == 0, output(release)
    finally:
        stop(release)
    assert "No migrations to apply" in output(release)


def test_manage_py_make_run_and_tests_stay_on_their_own_settings(tmp_path):
    code = "from django.conf import settings; print(settings.SETTINGS_MODULE, settings.DEBUG)"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.splitlines()[-1] == "config.settings.dev True", result.stderr
    for process, line in procfile("Procfile.dev").items():
        assert "manage.py" in line or line.startswith("DJANGO_SETTINGS_MODULE=config.settings.dev "), process
    assert os.environ["DJANGO_SETTINGS_MODULE"] == "config.settings.test"  # pytest's, from pyproject.toml
