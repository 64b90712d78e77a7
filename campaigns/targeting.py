"""Who a campaign targets: its audiences (later also segments, minus exclusions).

The snapshot turns this queryset into Delivery rows with one INSERT … SELECT, so it must
stay a queryset (no Python-side lists of contacts).
"""

from .models import Contact


def recipients(campaign):
    """Contacts the campaign targets, before suppression."""
    return Contact.objects.filter(audiences__in=campaign.audiences.all()).distinct()
