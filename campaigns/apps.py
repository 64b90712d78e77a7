from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = "Campaigns"

    def ready(self):
        from anymail.signals import tracking

        from campaigns.reports.tracking import record_tracking_event

        tracking.connect(record_tracking_event, dispatch_uid="campaigns.record_tracking_event")
