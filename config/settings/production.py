"""Production: everything from the environment; refuses to start without its secrets.

Every Procfile process loads these settings (config/celery.py and config/wsgi.py default
to them), so a web, worker or beat process that lacks a secret stops at once with one
line saying what to set, instead of running with a guessable key or open webhooks.
"""

from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured

from .base import *
from .base import env, env_bool, env_list


def refusals():
    """What production lacks, one phrase each; empty when it may start."""
    if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:
        yield "set SECRET_KEY to 50 or more random characters"
    if not MAILROOM_BASE_URL.startswith("https://") or not urlparse(MAILROOM_BASE_URL).hostname:
        yield f"set MAILROOM_BASE_URL to the site's https:// address (it is {MAILROOM_BASE_URL!r})"
    if MAILROOM_WEBHOOKS_ENABLED and not ANYMAIL.get("WEBHOOK_SECRET"):
        yield 'set ANYMAIL=\'{"WEBHOOK_SECRET": "user:long-random-password"}\' or MAILROOM_WEBHOOKS_ENABLED=0'


if missing := list(refusals()):
    raise ImproperlyConfigured("Mailroom production settings refuse to start: " + "; ".join(missing) + ".")

DEBUG = False
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS") or [urlparse(MAILROOM_BASE_URL).hostname]
if MAILROOM_BEHIND_PROXY:
    # Only a proxy we stand behind sets this header; from a client directly it is a lie.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = int(env("SECURE_HSTS_SECONDS", "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
CSRF_TRUSTED_ORIGINS = [MAILROOM_BASE_URL]
# whitenoise serves the collected static files straight from gunicorn.
MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")
STORAGES["staticfiles"]["BACKEND"] = "whitenoise.storage.CompressedManifestStaticFilesStorage"
