"""Production settings: refuse to start without a secret; pass `check --deploy` cleanly."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def manage(*args, **env):
    base = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DJANGO_SETTINGS_MODULE"}}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=base | {"DJANGO_SETTINGS_MODULE": "config.settings.production"} | env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = manage("check", MAILROOM_VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_passes_check_deploy_with_https_settings(tmp_path):
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        SECRET_KEY="x" * 64 + "-a-long-random-production-secret",
        ALLOWED_HOSTS="mail.example.com",
        MAILROOM_BASE_URL="https://mail.example.com",
        ANYMAIL='{"WEBHOOK_SECRET": "hook:a-long-random-webhook-password"}',
        MAILROOM_VAR_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_every_mailer_is_the_suppression_gateway():
    from config.settings import base

    assert set(base.MAILERS) == {"default", "promotional"}
    assert {alias: mailer["BACKEND"] for alias, mailer in base.MAILERS.items()} == {
        "default": "suppression.gateway.GatewayBackend",
        "promotional": "suppression.gateway.GatewayBackend",
    }
    assert base.MAILERS["default"]["OPTIONS"]["stream"] == "account"
    assert base.MAILERS["promotional"]["OPTIONS"]["stream"] == "promotional"
    assert not hasattr(base, "EMAIL_BACKEND")  # Django 6.1 refuses it beside MAILERS


def test_the_database_url_s_own_options_are_kept_beside_ours():
    result = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.DATABASES['default']['OPTIONS'])"],
        cwd=ROOT,
        env=os.environ
        | {
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": "postgres://mailroom@db.example/mailroom?sslmode=require",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "{'sslmode': 'require', 'prepare_threshold': 2147483648}"
