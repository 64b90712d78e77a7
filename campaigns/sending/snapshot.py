"""Starting a campaign: freeze its email once (invariant 5), then turn its audience into
Delivery rows in one set-based statement (invariant 6: one per campaign × contact)."""

from django.db import connection
from django.db.models import Count, Q

from campaigns.audiences.targeting import recipients
from campaigns.models import Campaign, Delivery
from campaigns.web_version import web_version_url
from cms.rendering import freeze as freeze_page
from suppression import policy
from suppression.models import Stream


class NotPublished(Exception):
    """The campaign's email page has no published version to send."""


def render(campaign):
    """The campaign's email as it will be sent: the page's published version, rendered once.
    Raises NotPublished if the page is not live (the checklist refuses such a campaign)."""
    page = campaign.page.specific.published_version()
    if page is None:
        raise NotPublished(f"The email page “{campaign.page.title}” is not published.")
    return freeze_page(page, utm=campaign.utm(), web_url=web_version_url(campaign))


def freeze(campaign, frozen):
    """Store `frozen` (from render()) on the campaign: later page edits change nothing."""
    campaign.frozen_subject = frozen.subject
    campaign.frozen_html = frozen.html
    campaign.frozen_text = frozen.text
    campaign.frozen_from_email = frozen.from_email
    campaign.frozen_reply_to = frozen.reply_to
    campaign.save(
        update_fields=["frozen_subject", "frozen_html", "frozen_text", "frozen_from_email", "frozen_reply_to"]
    )


def snapshot(campaign, status=Delivery.Status.PENDING):
    """Targeted contacts → Delivery rows in one set-based INSERT … SELECT; blocked ones are
    written as suppressed with their reason in the same statement, the rest with `status`
    (held, for an A/B subject test to split: campaigns.sending.ab)."""
    targeted, params = recipients(campaign).values("id", "email_hash").query.sql_with_params()
    blocked, blocked_params = policy.blocking_channels(Stream.PROMOTIONAL).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {Delivery._meta.db_table}
                (campaign_id, contact_id, email_hash, status, reason, attempts, esp_message_id)
            SELECT %s, targeted.id, targeted.email_hash,
                   CASE WHEN blocked.blocked_by IS NULL THEN %s ELSE %s END,
                   COALESCE(blocked.blocked_by, ''), 0, ''
            FROM ({targeted}) AS targeted
            LEFT JOIN ({blocked}) AS blocked ON blocked.address_hash = targeted.email_hash
            WHERE true  -- SQLite needs a WHERE before ON CONFLICT in INSERT … SELECT
            ON CONFLICT DO NOTHING
            """,
            [campaign.pk, status, Delivery.Status.SUPPRESSED, *params, *blocked_params],
        )
    counts = Delivery.objects.filter(campaign=campaign).aggregate(
        audience=Count("pk"), suppressed=Count("pk", filter=Q(status=Delivery.Status.SUPPRESSED))
    )
    Campaign.objects.filter(pk=campaign.pk).update(
        audience_count=counts["audience"], suppressed_count=counts["suppressed"]
    )
