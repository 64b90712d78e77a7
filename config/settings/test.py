"""Test settings: PostgreSQL and Redis when DATABASE_URL / REDIS_URL are set.

Without them: SQLite and the embedded broker, in a private folder so tests never touch
the developer's var/.
"""

import os
import tempfile

os.environ.setdefault("MAILROOM_VAR_DIR", tempfile.mkdtemp(prefix="mailroom-test-"))

from .base import *
from .base import env

SECRET_KEY = env("SECRET_KEY", "test-only-not-secret-mailroom")
MAILROOM_HASH_KEY = env("MAILROOM_HASH_KEY", SECRET_KEY)
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MAILROOM_BASE_URL = "https://mailroom.test"
WAGTAILADMIN_BASE_URL = MAILROOM_BASE_URL
ALLOWED_HOSTS = ["*"]
# Tests post to the public pages thousands of times from 127.0.0.1; the rate limit's own
# tests (tests/security/test_rate_limit.py) turn it on.
MAILROOM_PUBLIC_RATE = float(env("MAILROOM_PUBLIC_RATE", "0"))
