"""People erased before erasure locked every personal channel: their earlier opt-outs
(by link, one-click, preference centre, staff) become source `erasure`, so no undo,
preference centre or admin can reopen them."""

from django.db import migrations

PERSONAL_CHANNELS = ("email_marketing", "postal_marketing", "third_party_sharing")


def lock(apps, schema_editor):
    Suppression = apps.get_model("suppression", "Suppression")
    erased = Suppression.objects.filter(source="erasure").values("address_hash")
    Suppression.objects.filter(address_hash__in=erased, channel__in=PERSONAL_CHANNELS).exclude(
        source="erasure"
    ).update(source="erasure", campaign_id=None)


class Migration(migrations.Migration):
    dependencies = [("suppression", "0003_ledger_lookups_by_hash")]

    operations = [migrations.RunPython(lock, migrations.RunPython.noop)]
