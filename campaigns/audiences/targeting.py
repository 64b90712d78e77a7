"""Who a campaign targets: its audiences and segments, minus excluded audiences and segments.

The snapshot turns this queryset into Delivery rows with one INSERT … SELECT, so it must
stay a single queryset (no Python-side lists of contacts). Conditions are `pk__in`
subqueries and field lookups, never joins, so no contact appears twice. Suppression is
applied by the snapshot, not here.
"""

from django.db.models import Q

from campaigns.models import Contact, Membership

from .segments import condition


def in_audiences(audience_ids):
    # A literal list of ids, not a subquery through the campaign's audiences: the planner then
    # sees how many members match and merge-joins a million contacts in under a second,
    # where the subquery led it to a nested loop of 5.5 s.
    return Q(pk__in=Membership.objects.filter(audience_id__in=list(audience_ids)).values("contact_id"))


def recipients(campaign):
    """Contacts the campaign targets, before suppression."""
    included = in_audiences(campaign.audiences.values_list("pk", flat=True))
    for segment in campaign.segments.all():
        included |= condition(segment)
    excluded = in_audiences(campaign.excluded_audiences.values_list("pk", flat=True))
    for segment in campaign.excluded_segments.all():
        excluded |= condition(segment)
    # Ordered so deliveries are created (and claimed) in a stable order, oldest contacts first.
    return Contact.objects.filter(included).exclude(excluded).order_by("pk")
