"""The `suppress` command records through the policy, once."""

import io

import pytest
from django.core.management import CommandError, call_command

from suppression import policy
from suppression.models import Channel, ConsentEvent, Suppression

pytestmark = pytest.mark.django_db


def test_suppress_closes_the_channel_once_and_logs_it():
    out = io.StringIO()
    call_command(
        "suppress",
        " Ada@Example.com",
        "--channel",
        "postal_marketing",
        "--source",
        "letter",
        "--note",
        "Letter of 3 Nov",
        stdout=out,
    )
    call_command("suppress", "ada@example.com", "--channel", "postal_marketing", "--source", "letter", stdout=out)
    assert "closed now" in out.getvalue() and "was already closed" in out.getvalue()
    assert policy.is_suppressed("ADA@example.com", Channel.POSTAL_MARKETING)
    event = ConsentEvent.objects.get()
    assert (event.source, event.note, event.actor) == ("letter", "Letter of 3 Nov", "command line")


def test_suppress_refuses_an_unknown_channel():
    with pytest.raises(CommandError):
        call_command("suppress", "ada@example.com", "--channel", "sms", "--source", "letter")
    assert not Suppression.objects.exists()
