"""Local development: the embedded default with debug on and a throwaway secret."""

from .base import *
from .base import env

DEBUG = True
SECRET_KEY = env("SECRET_KEY", "dev-only-not-secret-mailroom")
MAILROOM_HASH_KEY = env("MAILROOM_HASH_KEY", SECRET_KEY)
