from django.apps import AppConfig


class SuppressionConfig(AppConfig):
    name = "suppression"
    verbose_name = "Suppression and consent"

    def ready(self):
        from .webhooks import ledger  # noqa: F401  (connects the anymail tracking receiver)
