"""Production: everything from the environment; refuses to start without a secret."""

from django.core.exceptions import ImproperlyConfigured

from .base import *
from .base import env, env_bool

if not SECRET_KEY:
    raise ImproperlyConfigured("Set SECRET_KEY: production refuses to start without one.")
if not MAILROOM_HASH_KEY:
    MAILROOM_HASH_KEY = SECRET_KEY

DEBUG = False
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = int(env("SECURE_HSTS_SECONDS", "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
CSRF_TRUSTED_ORIGINS = [MAILROOM_BASE_URL] if MAILROOM_BASE_URL.startswith("https://") else []
# whitenoise serves the collected static files straight from gunicorn.
MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")
STORAGES["staticfiles"]["BACKEND"] = "whitenoise.storage.CompressedManifestStaticFilesStorage"
