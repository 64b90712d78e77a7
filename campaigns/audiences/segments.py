"""Saved segments: their rules as queryset conditions over contacts, and live counts.

Every condition is a field lookup on Contact or a `pk__in` subquery, never a join, so
a segment (or several, OR-ed into a campaign's targeting) stays one duplicate-free
queryset that the send snapshot can turn into INSERT … SELECT. Segments are evaluated
when they are used, so a campaign gets the contacts that match at send time.
"""

import json
from datetime import timedelta

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from campaigns.models import Contact, Delivery, DeliveryEvent, Membership, Segment, SegmentRule
from suppression import policy
from suppression.models import Stream

Field, Op = SegmentRule.Field, SegmentRule.Operator
TEXT_FIELDS = {Field.COUNTRY: "country", Field.LANGUAGE: "language", Field.COMPANY: "company"}
NOBODY = Q(pk__in=[])


class RuleError(ValueError):
    """A rule whose operator or value does not fit its field."""


def condition(segment):
    """The Q that selects the segment's contacts (a segment without rules selects nobody)."""
    rules = [rule_condition(rule) for rule in segment.rules.all()]
    if not rules:
        return NOBODY
    combined = rules[0]
    for rule in rules[1:]:
        combined = combined & rule if segment.match == Segment.Match.ALL else combined | rule
    return combined


def contacts_in(segment):
    return Contact.objects.filter(condition(segment))


def deliverable(contacts):
    """Contacts that promotional mail may reach now (suppression.policy decides)."""
    return contacts.exclude(email_hash__in=policy.blocked_hashes(Stream.PROMOTIONAL))


def engaged_since(moment):
    """Contacts who opened or clicked an email (as the ESP reported) since `moment`."""
    return Q(
        pk__in=DeliveryEvent.objects.filter(
            kind__in=[DeliveryEvent.Kind.OPENED, DeliveryEvent.Kind.CLICKED], occurred_at__gte=moment
        ).values("delivery__contact_id")
    )


def live_count(segment):
    return deliverable(contacts_in(segment)).count()


def rule_condition(rule):
    if rule.field == Field.AUDIENCE:
        members = Q(pk__in=Membership.objects.filter(audience__name=rule.value).values("contact_id"))
        return _positive_or_negative(rule, members)
    if rule.field == Field.TAG:
        if connection.vendor == "postgresql":
            tagged = Q(tags__contains=[rule.value])
        else:  # SQLite's JSONField has no contains lookup: match the JSON string
            tagged = Q(tags__icontains=json.dumps(rule.value))
        return _positive_or_negative(rule, tagged)
    if rule.field in TEXT_FIELDS:
        return _text(rule, TEXT_FIELDS[rule.field])
    if rule.field == Field.ATTRIBUTE:
        return _attribute(rule)
    if rule.field == Field.LAST_MAILED:
        mailed = Q(
            pk__in=Delivery.objects.filter(status=Delivery.Status.SENT, sent_at__gte=_days_ago(rule)).values(
                "contact_id"
            )
        )
        return _within(rule, mailed)
    if rule.field == Field.LAST_OPENED:
        return _within(rule, engaged_since(_days_ago(rule)))
    if rule.field == Field.CREATED:
        return _within(rule, Q(created_at__gte=_days_ago(rule)))
    raise RuleError(f"Unknown field {rule.field!r}.")


def _positive_or_negative(rule, matched):
    if rule.operator in (Op.IS, Op.CONTAINS):
        return matched
    if rule.operator == Op.IS_NOT:
        return ~matched
    raise RuleError(f"“{rule.get_field_display()}” takes “is” or “is not”.")


def _text(rule, field):
    lookups = {
        Op.IS: Q(**{f"{field}__iexact": rule.value}),
        Op.IS_NOT: ~Q(**{f"{field}__iexact": rule.value}),
        Op.CONTAINS: Q(**{f"{field}__icontains": rule.value}),
        Op.IS_SET: ~Q(**{field: ""}),
        Op.IS_NOT_SET: Q(**{field: ""}),
    }
    if rule.operator not in lookups:
        raise RuleError(f"“{rule.get_field_display()}” takes is, is not, contains, is set or is not set.")
    return lookups[rule.operator]


def _attribute(rule):
    """Custom attributes hold text as imported; compare ISO dates (2025-03-01) or same-width numbers."""
    if not rule.attribute:
        raise RuleError("Name the custom attribute (as mapped at import).")
    key = f"attributes__{rule.attribute}"
    has = Q(attributes__has_key=rule.attribute)
    if rule.operator in (Op.WITHIN_DAYS, Op.NOT_WITHIN_DAYS):
        recent = has & Q(**{f"{key}__gte": _days_ago(rule).date().isoformat()})
        return _within(rule, recent)
    lookups = {
        Op.IS: Q(**{key: rule.value}),
        Op.IS_NOT: ~Q(**{key: rule.value}),
        Op.CONTAINS: Q(**{f"{key}__icontains": rule.value}),
        Op.GREATER: has & Q(**{f"{key}__gt": rule.value}),
        Op.LESS: has & Q(**{f"{key}__lt": rule.value}),
        Op.IS_SET: has,
        Op.IS_NOT_SET: ~has,
    }
    return lookups[rule.operator]


def _within(rule, recent):
    if rule.operator == Op.WITHIN_DAYS:
        return recent
    if rule.operator == Op.NOT_WITHIN_DAYS:
        return ~recent
    raise RuleError(f"“{rule.get_field_display()}” takes “within” or “not within the last N days”.")


def _days_ago(rule):
    try:
        days = int(rule.value)
    except ValueError:
        raise RuleError("Give the number of days as the value, e.g. 180.") from None
    return timezone.now() - timedelta(days=days)
