"""Celery tasks of the suppression app. They run on the `account` queue (the default queue
in settings; only campaigns.tasks are routed to `promotional`)."""

from celery import shared_task

from . import account_mail


@shared_task
def send_account_mail_task(to, template, context):
    return account_mail.deliver(to, template, context)
