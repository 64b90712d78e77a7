"""Public URLs of the suppression app: the opt-out pages, keyed by a signed token."""

from django.urls import path

from . import views

app_name = "suppression"
urlpatterns = [
    path("u/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("u/<str:token>/preferences/", views.preferences, name="preferences"),
    path("u/<str:token>/undo/", views.undo, name="undo"),
]
