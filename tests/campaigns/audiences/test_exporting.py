"""Exports: formula injection neutralised, opt-outs left out, every export audited."""

import csv

import pytest
from django.core.management import call_command

from campaigns.audiences.exporting import neutralise
from campaigns.models import Contact, ExportLog
from suppression import policy
from suppression.models import Channel, Source

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "value, expected",
    [
        ("=1+1", "'=1+1"),
        ("+49 30", "'+49 30"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("Ada", "Ada"),
        ("", ""),
        (None, ""),
        (["vip", "=x"], "vip, =x"),
        (["=x"], "'=x"),
    ],
)
def test_neutralise(value, expected):
    assert neutralise(value) == expected


def read(path):
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def test_export_commands_leave_out_opt_outs_and_are_audited(tmp_path):
    Contact.objects.create(email="ada@example.com", first_name="Ada", postal_address="1 Way")
    Contact.objects.create(email="grace@example.com", first_name="=Grace", postal_address="2 Way")
    Contact.objects.create(email="linus@example.com", first_name="Linus")
    policy.record_opt_out("ADA@example.com", Channel.POSTAL_MARKETING, Source.PHONE)
    policy.record_opt_out("grace@example.com", Channel.THIRD_PARTY_SHARING, Source.EMAIL)
    call_command("export_postal", str(tmp_path / "postal.csv"))
    call_command("export_third_party", str(tmp_path / "affiliated.csv"))
    assert read(tmp_path / "postal.csv") == [
        ["first_name", "last_name", "company", "postal_address", "country"],
        ["'=Grace", "", "", "2 Way", ""],
    ]
    assert [row[0] for row in read(tmp_path / "affiliated.csv")] == ["email", "ada@example.com", "linus@example.com"]
    assert list(ExportLog.objects.order_by("id").values_list("kind", "rows", "username")) == [
        ("postal", 1, "command line"),
        ("third_party", 2, "command line"),
    ]
