"""The Celery app: configured from Django settings (CELERY_*), tasks found in the apps.

Without DJANGO_SETTINGS_MODULE the settings are production's, as for config/wsgi.py:
`celery -A config worker|beat` in the Procfile must never run the dev settings. This
module is imported with the `config` package, before wsgi.py, so its default is the one
that counts; manage.py, Procfile.dev and the tests name their settings explicitly.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

app = Celery("mailroom")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
