"""Celery tasks of the signup app: the beat job that forgets unconfirmed signups."""

from celery import shared_task

from . import double_opt_in


@shared_task
def delete_expired_signups():
    """Beat job: delete the signups nobody confirmed within double_opt_in.CONFIRM_WITHIN."""
    return double_opt_in.delete_expired()
