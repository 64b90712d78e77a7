"""Test URLconf: the project's URLs plus anymail's own webhook URLs, so tracking tests post
real ESP payloads to them (config/urls.py wires anymail when the suppression side lands)."""

from django.urls import include, path

from config.urls import urlpatterns as project_urlpatterns

urlpatterns = [path("anymail/", include("anymail.urls")), *project_urlpatterns]
