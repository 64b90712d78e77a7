"""The Celery app: configured from Django settings (CELERY_*), tasks found in the apps.

Without DJANGO_SETTINGS_MODULE the settings are production's, as for config/wsgi.py:
`celery -A config worker|beat` in the Procfile must never run the dev settings. This
module is imported with the `config` package, before wsgi.py, so its default is the one
that counts; manage.py, Procfile.dev and the tests name their settings explicitly.
"""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

app = Celery("mailroom")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def reuse_database_connections(task, **kwargs):
    """Around each task, as around each request: drop a connection that failed or outlived
    DATABASE_CONN_MAX_AGE, and have the next use ping a kept one first. Not for a task run
    eagerly, inside its caller's transaction (Celery skips those too)."""
    if getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
