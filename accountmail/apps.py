from django.apps import AppConfig


class AccountmailConfig(AppConfig):
    name = "accountmail"
    verbose_name = "Account-service mail"
