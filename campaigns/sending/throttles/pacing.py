"""A messages-per-second rate per mailbox provider (a group of recipient domains), one
token bucket per group shared by every worker (config.ratelimit).

A batch sends what each group's bucket allows now; the rest of a throttled group is put
off (claims.defer: still claimed, until its booked turn), so workers send other groups'
deliveries meanwhile. An SMTP server's 4xx to a recipient of a group halves that group's
rate for MAILROOM_DOMAIN_SLOWDOWN_SECONDS after the last one, then it recovers. Groups
without a rate (the default: every group) are never held back.
"""

import functools
from collections import defaultdict

from django.conf import settings

from config import ratelimit

from ..delivery_errors import deferred_by_recipient

OTHER = "other"  # every domain no group names


def enabled():
    return any(settings.MAILROOM_DOMAIN_RATES.values())


@functools.cache
def _patterns(groups):
    """(exact domain → group, ((prefix, group), …)) from ((group, patterns), …); a pattern
    ending in ".*" (yahoo.*) takes every domain that starts with what precedes the star."""
    exact, prefixes = {}, []
    for group, patterns in groups:
        for pattern in patterns:
            pattern = pattern.lower()
            if pattern.endswith(".*"):
                prefixes.append((pattern[:-1], group))
            else:
                exact[pattern] = group
    return exact, tuple(prefixes)


def grouper():
    """A function address → group name, reading the settings once (take one per batch)."""
    exact, prefixes = _patterns(tuple((group, tuple(p)) for group, p in settings.MAILROOM_DOMAIN_GROUPS.items()))

    @functools.cache
    def group_of_domain(domain):
        return exact.get(domain) or next((group for prefix, group in prefixes if domain.startswith(prefix)), OTHER)

    return lambda address: group_of_domain(address.rpartition("@")[2].lower())


def rate(group):
    """The group's rate now (0: unlimited): its setting, halved while it defers us."""
    configured = settings.MAILROOM_DOMAIN_RATES.get(group, 0)
    return configured and configured * ratelimit.rate_factor(f"domain:{group}")


def pace(deliveries):
    """Split a batch into (what goes now, [(delivery, seconds to put it off), …]): each
    rated group sends what its bucket holds, and books a turn for each of the rest."""
    if not enabled():
        return deliveries, []
    group_of = grouper()
    by_group = defaultdict(list)
    for delivery in deliveries:
        by_group[group_of(delivery.contact.email)].append(delivery)
    held, later = set(), []
    for group, members in by_group.items():
        per_second = rate(group)
        if not per_second:
            continue
        name = f"domain:{group}"
        taken = ratelimit.take_up_to(name, per_second, max(1, per_second), len(members))
        rest = members[taken:]
        if rest:
            first = ratelimit.book(name, len(rest), per_second)
            later += [(delivery, first + (n + 1) / per_second) for n, delivery in enumerate(rest)]
            held.update(delivery.pk for delivery in rest)
    return [delivery for delivery in deliveries if delivery.pk not in held], later


def note_deferrals(chunk, outcomes):
    """Halve the rate of each rated group a recipient of which was deferred (SMTP 4xx)."""
    deferred = [d for d, outcome in zip(chunk, outcomes, strict=True) if deferred_by_recipient(outcome.exception)]
    if not deferred or not enabled():
        return
    group_of = grouper()
    for group in {group_of(delivery.contact.email) for delivery in deferred}:
        if settings.MAILROOM_DOMAIN_RATES.get(group):
            ratelimit.halve(f"domain:{group}", settings.MAILROOM_DOMAIN_SLOWDOWN_SECONDS)
