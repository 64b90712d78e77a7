"""ESP tracking events (anymail's `tracking` signal) → DeliveryEvent rows for the campaign report.

Every campaign message carries metadata {"campaign": id, "delivery": id}
(campaigns.sending.personalise); the ESP hands it back with each event. Suppression acts on the
same events separately (suppression/); here we only count them per campaign.
"""

import logging

from anymail.signals import EventType
from django.utils import timezone

from campaigns.models import Delivery, DeliveryEvent

logger = logging.getLogger(__name__)

KINDS = {
    EventType.BOUNCED: DeliveryEvent.Kind.BOUNCED,
    EventType.COMPLAINED: DeliveryEvent.Kind.COMPLAINED,
    EventType.UNSUBSCRIBED: DeliveryEvent.Kind.UNSUBSCRIBED,
    EventType.OPENED: DeliveryEvent.Kind.OPENED,
    EventType.CLICKED: DeliveryEvent.Kind.CLICKED,
}


def record_tracking_event(sender, event, esp_name, **kwargs):
    """Receiver for anymail.signals.tracking; ignores events that are not about a campaign delivery."""
    kind = KINDS.get(event.event_type)
    metadata = event.metadata or {}
    if kind is None or "delivery" not in metadata:
        return None
    try:
        delivery_id, campaign_id = int(metadata["delivery"]), int(metadata.get("campaign", 0))
    except (TypeError, ValueError):
        logger.warning("%s %s event with unreadable metadata %r", esp_name, event.event_type, metadata)
        return None
    delivery = Delivery.objects.filter(pk=delivery_id, campaign_id=campaign_id).only("pk", "campaign_id").first()
    if delivery is None:
        logger.info("%s %s event for unknown delivery %s", esp_name, event.event_type, delivery_id)
        return None
    recorded, _ = DeliveryEvent.objects.get_or_create(
        delivery=delivery,
        kind=kind,
        defaults={
            "campaign_id": delivery.campaign_id,
            "esp_event_id": (event.event_id or "")[:255],
            "description": (event.description or event.click_url or "")[:255],
            "occurred_at": event.timestamp or timezone.now(),
        },
    )
    return recorded
