"""Staff users of each role for the security tests: Admins and Marketers with seed_demo's
permissions, Editors and Moderators as Wagtail's migrations create them."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.test import Client

from campaigns.management.commands.seed_demo import GROUP_PERMISSIONS

# The admin's contact form, all but the address.
CONTACT_FORM = {
    "first_name": "Ada",
    "last_name": "",
    "external_id": "",
    "company": "",
    "country": "",
    "language": "",
    "postal_address": "",
    "tags": "[]",
    "attributes": "{}",
    "consent_basis": "",
    "consent_date": "",
    "consent_source": "",
}
GROUPS = {"Admin": "Admins", "Marketer": "Marketers", "Editor": "Editors", "Moderator": "Moderators"}


def staff_user(role, username=None):
    group, created = Group.objects.get_or_create(name=GROUPS[role])
    if GROUPS[role] in GROUP_PERMISSIONS:
        group.permissions.set(Permission.objects.filter(codename__in=GROUP_PERMISSIONS[GROUPS[role]]))
    assert not created or GROUPS[role] in GROUP_PERMISSIONS, f"Wagtail's {GROUPS[role]} group is missing"
    username = username or role.lower()
    user = get_user_model().objects.create_user(username, f"{username}@example.com", "pw")
    user.groups.add(group)
    return user


def staff_client(role, username=None):
    client = Client()
    client.force_login(staff_user(role, username))
    return client
