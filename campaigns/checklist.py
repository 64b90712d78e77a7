"""The pre-send checklist for a campaign: the page's content checks (cms.checklist) plus
who would actually receive it once suppression is applied. Shown on the send page and
enforced by sending.lifecycle.schedule()."""

from dataclasses import dataclass, field

from campaigns.audiences.segments import deliverable
from campaigns.audiences.targeting import recipients
from cms import checklist as content_checklist
from cms.rendering import sender_settings


@dataclass
class Checklist:
    targeted: int
    reachable: int  # targeted minus the suppressed
    problems: list = field(default_factory=list)

    @property
    def ok(self):
        return not self.problems


def audience_counts(campaign):
    """(targeted, reachable after suppression), counted in the database."""
    targeted = recipients(campaign)
    return targeted.count(), deliverable(targeted).count()


def check(campaign):
    page = campaign.page.specific
    problems = content_checklist.problems(page, sender_settings(page))
    targeted, reachable = audience_counts(campaign)
    if not reachable:
        problems.append(
            f"No one to send to: the audiences hold {targeted} contact(s), none reachable after opt-outs and bounces."
        )
    return Checklist(targeted=targeted, reachable=reachable, problems=problems)
