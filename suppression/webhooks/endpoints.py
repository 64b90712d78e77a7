"""anymail's ESP webhook URLs as Mailroom serves them.

- Switched off (MAILROOM_WEBHOOKS_ENABLED=0): every URL answers 404.
- No ANYMAIL["WEBHOOK_SECRET"]: every request is refused (403), in every environment.
  anymail itself would accept anyone and only warn, so a forged Postmark bounce could
  suppress any address.
- Otherwise anymail's views check the secret (HTTP basic auth) and any ESP signature.

An event is recorded even when an ESP field it does not need is malformed: answering
500 makes the ESP retry the same payload until it gives up, and the bounce is lost.
Brevo's own documentation shows a plain string in `X-Mailin-custom`, which anymail parses
as JSON; Brevo's transactional `unsubscribed` event is added to anymail's mapping.
"""

import functools
import logging

from anymail import urls as anymail_urls
from anymail.signals import EventType
from anymail.webhooks.amazon_ses import AmazonSESTrackingWebhookView
from anymail.webhooks.brevo import BrevoTrackingWebhookView
from anymail.webhooks.mailgun import MailgunTrackingWebhookView
from anymail.webhooks.postmark import PostmarkTrackingWebhookView
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import URLPattern

logger = logging.getLogger(__name__)


def guarded(view):
    """404 while webhooks are switched off; 403 while no secret is configured."""

    @functools.wraps(view)  # keeps anymail's csrf_exempt: ESPs send no CSRF token
    def guarded_view(request, *args, **kwargs):
        if not settings.MAILROOM_WEBHOOKS_ENABLED:
            raise Http404("ESP webhooks are switched off.")
        if not settings.ANYMAIL.get("WEBHOOK_SECRET"):
            logger.error("ESP webhook refused: set ANYMAIL's WEBHOOK_SECRET (or MAILROOM_WEBHOOKS_ENABLED=0).")
            raise PermissionDenied("ESP webhooks need a secret.")
        return view(request, *args, **kwargs)

    return guarded_view


def _without(payload, path):
    """A copy of `payload` without the field at `path` (a tuple of keys)."""
    head, *rest = path
    if not isinstance(payload, dict) or head not in payload:
        return payload
    if not rest:
        return {key: value for key, value in payload.items() if key != head}
    return {**payload, head: _without(payload[head], rest)}


class TolerantEvents:
    """Mixin for an anymail tracking view: if parsing an event fails, parse it again
    without the fields in `optional_fields` (paths of keys) and record what remains;
    metadata that is not a JSON object becomes {}."""

    optional_fields = ()

    def esp_to_anymail_event(self, esp_event, *args, **kwargs):
        try:
            return super().esp_to_anymail_event(esp_event, *args, **kwargs)
        except (ValueError, TypeError, AttributeError, KeyError) as error:
            stripped = esp_event
            for path in self.optional_fields:
                stripped = _without(stripped, path)
            if stripped == esp_event:
                raise
            logger.warning("%s event with a malformed field (%s); recorded without it.", self.esp_name, error)
            event = super().esp_to_anymail_event(stripped, *args, **kwargs)
            event.esp_event = esp_event  # the raw payload, so a retry of it gets the same event key
            return event

    def parse_events(self, request):
        events = super().parse_events(request)
        for event in events:
            if not isinstance(event.metadata, dict):
                event.metadata = {}
        return events


# The fields anymail may fail to parse and the ledger can do without. Never the ones
# that tell a soft bounce from a hard one (Postmark's Type, Mailgun's severity).
class PostmarkTracking(TolerantEvents, PostmarkTrackingWebhookView):
    optional_fields = [(name,) for name in ("BouncedAt", "DeliveredAt", "ReceivedAt", "ChangedAt", "Metadata")]


class MailgunTracking(TolerantEvents, MailgunTrackingWebhookView):
    optional_fields = [("event-data", name) for name in ("timestamp", "message", "reason", "client-info")]


class BrevoTracking(TolerantEvents, BrevoTrackingWebhookView):
    optional_fields = [("X-Mailin-custom",), ("ts_epoch",)]
    # Brevo's transactional webhooks send "unsubscribed"; anymail 15 knows only "unsubscribe".
    event_types = {**BrevoTrackingWebhookView.event_types, "unsubscribed": (EventType.UNSUBSCRIBED, None)}


class AmazonSESTracking(TolerantEvents, AmazonSESTrackingWebhookView):
    """SES notifications come from AWS itself; only the metadata we sent may be odd."""


TOLERANT_VIEWS = {
    PostmarkTrackingWebhookView: PostmarkTracking,
    MailgunTrackingWebhookView: MailgunTracking,
    BrevoTrackingWebhookView: BrevoTracking,
    AmazonSESTrackingWebhookView: AmazonSESTracking,
}


def _served(pattern):
    view_class = pattern.callback.view_class
    view = TOLERANT_VIEWS.get(view_class, view_class).as_view()
    return URLPattern(pattern.pattern, guarded(view), pattern.default_args, pattern.name)


app_name = "anymail"
urlpatterns = [_served(pattern) for pattern in anymail_urls.urlpatterns]
