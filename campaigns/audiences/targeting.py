"""Who a campaign targets: its audiences and segments, minus excluded audiences and segments.

The snapshot turns this queryset into Delivery rows with one INSERT … SELECT, so it must
stay a single queryset (no Python-side lists of contacts). Conditions are `pk__in`
subqueries and field lookups, never joins, so no contact appears twice. Suppression is
applied by the snapshot, not here; reach() counts it for the checklist and the live count.
"""

from django.db.models import Q

from campaigns.models import Contact, Membership

from .segments import condition, deliverable


def in_audiences(audience_ids):
    # A literal list of ids, not a subquery through the campaign's audiences: the planner then
    # sees how many members match and merge-joins a million contacts in under a second,
    # where the subquery led it to a nested loop of 5.5 s.
    return Q(pk__in=Membership.objects.filter(audience_id__in=list(audience_ids)).values("contact_id"))


def recipients(campaign):
    """Contacts the campaign targets, before suppression."""
    return chosen_recipients(
        campaign.audiences.values_list("pk", flat=True),
        campaign.segments.all(),
        campaign.excluded_audiences.values_list("pk", flat=True),
        campaign.excluded_segments.all(),
    )


def chosen_recipients(audience_ids, segments, excluded_audience_ids=(), excluded_segments=()):
    """Contacts a choice of audiences and segments targets, before suppression (the campaign
    form counts them live, before anything is saved)."""
    included = in_audiences(audience_ids)
    for segment in segments:
        included |= condition(segment)
    excluded = in_audiences(excluded_audience_ids)
    for segment in excluded_segments:
        excluded |= condition(segment)
    # Ordered so deliveries are created (and claimed) in a stable order, oldest contacts first.
    return Contact.objects.filter(included).exclude(excluded).order_by("pk")


def reach(contacts):
    """(targeted, reachable after suppression) for targeted `contacts`, counted in the database."""
    return contacts.count(), deliverable(contacts).count()
