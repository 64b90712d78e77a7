from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = "Campaigns"

    def ready(self):
        from anymail.signals import tracking

        from campaigns.reports.deliverability import guard_after_event
        from campaigns.reports.tracking import record_tracking_event
        from suppression.webhooks import ledger  # noqa: F401  (its receiver first: the guard counts the ledger)

        tracking.connect(record_tracking_event, dispatch_uid="campaigns.record_tracking_event")
        tracking.connect(guard_after_event, dispatch_uid="campaigns.guard_after_event")
