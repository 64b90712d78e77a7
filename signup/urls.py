"""Public URLs of the signup app: the form's POST and the confirmation link."""

from django.urls import path

from . import views

app_name = "signup"
urlpatterns = [
    path("signup/<int:page_id>/", views.subscribe, name="subscribe"),
    path("signup/confirm/<str:token>/", views.confirm, name="confirm"),
]
