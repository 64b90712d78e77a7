"""The pre-send checklist for a campaign: the page's published version must exist and pass
the content checks (cms.checklist), and someone must be left to mail once suppression is
applied; it warns about contacts the frequency cap holds back and contacts who stopped
opening. Shown on the campaign's review and enforced by sending.lifecycle.schedule()."""

from dataclasses import dataclass, field

from django.conf import settings
from django.utils.formats import date_format
from django.utils.timezone import localtime

from campaigns.audiences import engagement
from campaigns.audiences.targeting import reach, recipients
from cms import checklist as content_checklist
from cms.merge import unknown_fields
from cms.rendering import sender_settings


@dataclass
class Checklist:
    targeted: int
    reachable: int  # targeted minus the suppressed
    problems: list = field(default_factory=list)  # each blocks sending
    warnings: list = field(default_factory=list)  # worth knowing; sending is allowed

    @property
    def ok(self):
        return not self.problems

    @property
    def suppressed(self):
        return self.targeted - self.reachable


def check(campaign):
    page = campaign.page.specific
    published = page.published_version()
    problems, warnings = [], []
    if published is None:
        if page.first_published_at:
            problems.append(
                f"The email “{page.title}” is unpublished. Publish it again: campaigns send what is published."
            )
        else:
            problems.append(
                f"The email “{page.title}” was never published. Publish it first: campaigns send what is published."
            )
    else:
        problems += content_checklist.problems(published, sender_settings(published))
        if page.has_unpublished_changes:
            since = (
                f" on {date_format(localtime(page.last_published_at), 'DATETIME_FORMAT')}"
                if page.last_published_at
                else ""
            )
            warnings.append(
                f"The email “{page.title}” has a draft that differs from what will be sent: the campaign sends the "
                f"version published{since}. Publish the draft to send it instead."
            )
    if campaign.pk:
        problems += subject_test_problems(campaign)
    contacts = recipients(campaign)
    targeted, reachable = reach(contacts)
    if not reachable:
        problems.append(
            f"No one to send to: the audiences hold {targeted} contact(s), none reachable after opt-outs and bounces."
        )
    else:
        warnings += audience_warnings(contacts)
    return Checklist(targeted=targeted, reachable=reachable, problems=problems, warnings=warnings)


def audience_warnings(contacts):
    """What the frequency cap would hold back now, and who stopped opening (once opens are reported)."""
    warnings = []
    capped = engagement.capped_count(contacts)
    if capped:
        warnings.append(
            f"{capped} contact(s) already had {settings.MAILROOM_FREQUENCY_CAP} promotional email(s) in the last "
            "7 days: the frequency cap would skip them if sending started now (recorded as suppressed)."
        )
    if engagement.tracking_data_exists():
        unengaged = engagement.unengaged_count(contacts)
        if unengaged:
            days = engagement.UNENGAGED_AFTER.days
            warnings.append(
                f"{unengaged} contact(s) were mailed before but opened or clicked nothing in {days} days. Mailing "
                "people who no longer read hurts delivery for everyone: consider a segment that leaves them out."
            )
    return warnings


def subject_test_problems(campaign):
    """An A/B test's subjects take the same merge fields as the email's own."""
    subjects = list(campaign.variants.values_list("label", "subject"))
    found = [
        f"Subject {label} has unknown merge fields: {', '.join('{' + name + '}' for name in unknown)}."
        for label, subject in subjects
        if (unknown := unknown_fields(subject))
    ]
    if len(subjects) == 1:
        found.append("An A/B subject test needs at least two subjects.")
    return found
