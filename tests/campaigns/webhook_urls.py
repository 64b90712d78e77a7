"""Test URLconf: anymail's own webhook URLs, so tracking tests post real ESP payloads to them."""

from django.urls import include, path

urlpatterns = [path("anymail/", include("anymail.urls"))]
