"""URLs: Wagtail admin, public opt-out and signup pages, ESP webhooks, a health check, then Wagtail pages."""

from django.conf import settings
from django.urls import include, path
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.documents import urls as wagtaildocs_urls

from .health import health

urlpatterns = [
    path("admin/", include(wagtailadmin_urls)),
    path("documents/", include(wagtaildocs_urls)),
    path("", include("suppression.public.urls")),
    path("", include("campaigns.urls")),
    path("", include("signup.urls")),
    # anymail's ESP webhook views, guarded (suppression/webhooks/endpoints.py); its ledger
    # receives their tracking signal.
    path("webhooks/anymail/", include("suppression.webhooks.endpoints")),
    path("healthz", health, name="health"),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

urlpatterns += [path("", include(wagtail_urls))]
