"""The contact import command: counts, errors, and never resubscribing anyone."""

import json

import pytest
from django.core.management import CommandError, call_command

from campaigns.models import Audience, Contact
from suppression import policy
from suppression.models import Channel, Source, Suppression

pytestmark = pytest.mark.django_db


def run_import(tmp_path, capsys, content, *args):
    path = tmp_path / "contacts.csv"
    path.write_text(content, encoding="utf-8")
    call_command("import_contacts", str(path), "--audience", "Customers", *args)
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_import_counts_every_outcome(tmp_path, capsys):
    policy.record_opt_out("grace@example.com", Channel.EMAIL_MARKETING, Source.PHONE)
    summary = run_import(
        tmp_path, capsys,
        "email,first_name,last_name\n"
        "ada@example.com,Ada,Lovelace\n"
        "not-an-address,Bad,Row\n"
        "ADA@example.com,Ada,Again\n"
        "grace@example.com,Grace,Hopper\n",
    )
    assert {k: summary[k] for k in ("rows", "created", "updated", "unchanged", "invalid", "duplicates", "suppressed")} == {
        "rows": 4, "created": 2, "updated": 0, "unchanged": 0, "invalid": 1, "duplicates": 1, "suppressed": 1,
    }
    assert Audience.objects.get(name="Customers").contacts.count() == 2


def test_reimport_changes_nothing_and_never_clears_an_opt_out(tmp_path, capsys):
    content = "email,first_name\nada@example.com,Ada\n"
    run_import(tmp_path, capsys, content)
    policy.record_opt_out("ada@example.com", Channel.EMAIL_MARKETING, Source.LINK)
    summary = run_import(tmp_path, capsys, content, "--update-existing")
    assert (summary["created"], summary["updated"], summary["unchanged"], summary["suppressed"]) == (0, 0, 1, 1)
    assert Suppression.objects.filter(channel=Channel.EMAIL_MARKETING).count() == 1
    assert Contact.objects.count() == 1


def test_missing_email_column_is_a_clear_error_before_anything_is_written(tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_text("name,phone\nAda,123\n")
    with pytest.raises(CommandError, match="no 'email' column"):
        call_command("import_contacts", str(path), "--audience", "Customers")
    assert not Audience.objects.exists() and not Contact.objects.exists()
