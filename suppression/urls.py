"""Public URLs of the suppression app."""

from django.urls import path

from . import views

app_name = "suppression"
urlpatterns = [
    path("u/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
