"""The two new permissions go to the groups that already did what they now guard, decided by
permission, not group name: whole addresses (suppression.view_personal_data) to groups that
may export or erase a person's data, test sends (campaigns.send_test_email) to groups that
may add or change campaigns. Wagtail's Editors and Moderators hold neither, so they lose
test sends."""

from django.db import migrations

GRANTS = [
    (("suppression", "suppression", "view_personal_data"), ("manage_personal_data",)),
    (("campaigns", "campaign", "send_test_email"), ("add_campaign", "change_campaign")),
]
NAMES = {
    "view_personal_data": "Can see whole addresses and staff notes, and search by address",
    "send_test_email": "Can send test emails of an email page",
}


def grant(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    for (app_label, model, codename), holders in GRANTS:
        groups = Group.objects.filter(permissions__codename__in=holders).distinct()
        if not groups.exists():
            continue  # a fresh database: the permission is created after migrate as usual
        content_type, _ = ContentType.objects.get_or_create(app_label=app_label, model=model)
        permission, _ = Permission.objects.get_or_create(
            content_type=content_type, codename=codename, defaults={"name": NAMES[codename]}
        )
        for group in groups:
            group.permissions.add(permission)


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0012_send_test_permission"),
        ("suppression", "0005_view_personal_data_permission"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
