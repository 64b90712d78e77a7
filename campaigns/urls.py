"""Public URLs of the campaigns app."""

from django.urls import path

from . import web_version

app_name = "campaigns"
urlpatterns = [
    path("view/<str:token>/", web_version.web_version, name="web_version"),
]
