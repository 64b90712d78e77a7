"""Double opt-in beyond the form: the way back after erasure, erasure winning over a signup
asked before it, the beat job that forgets unconfirmed signups, and the consent proof in a
person's data export."""

from datetime import timedelta
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from campaigns.models import Contact
from campaigns.privacy import erase_person, export_person
from config.celery import app
from signup import double_opt_in
from signup.models import PendingSignup
from signup.tasks import delete_expired_signups
from suppression import policy
from suppression.models import Channel, ConsentEvent, Source, Suppression
from tests.factories import make_audience
from tests.signup.conftest import CONSENT

pytestmark = pytest.mark.django_db
ADA = "ada@example.com"


def follow(link):
    return Client().post(urlparse(link).path)


def test_an_erased_person_comes_back_only_by_confirming_a_new_signup(signup_page, audience, submit, mailbox):
    make_audience("Customers", [(ADA, "Ada")])
    policy.record_opt_out(ADA, Channel.EMAIL_MARKETING, Source.LINK)
    erase_person(ADA, actor="dpo")
    assert not Contact.objects.exists()

    submit(signup_page, email=ADA, first_name="Ada")
    assert policy.blocked([ADA], "promotional") == {ADA: Channel.EMAIL_MARKETING}  # asking is not consenting
    [link] = mailbox.links()
    assert follow(link).status_code == 200

    assert policy.blocked([ADA], "promotional") == {}
    assert list(Contact.objects.get(email=ADA).audiences.all()) == [audience]
    locked = dict.fromkeys([Channel.POSTAL_MARKETING, Channel.THIRD_PARTY_SHARING], Source.ERASURE)
    assert dict(Suppression.objects.values_list("channel", "source")) == locked


def test_a_signup_asked_before_an_erasure_cannot_be_confirmed_after_it(signup_page, submit, mailbox):
    submit(signup_page, email=ADA)
    [link] = mailbox.links()
    erase_person(ADA, actor="dpo")
    response = follow(link)
    assert response.status_code == 410
    assert not PendingSignup.objects.exists()  # the erasure wins: the signup is gone too
    assert not Contact.objects.exists()
    assert not ConsentEvent.objects.filter(action=ConsentEvent.Action.OPT_IN).exists()
    assert policy.blocked([ADA], "promotional") == {ADA: Channel.EMAIL_MARKETING}


def test_the_beat_job_deletes_signups_not_confirmed_within_seven_days(signup_page, submit, mailbox):
    for address in ("old@example.com", "new@example.com"):
        submit(signup_page, email=address)
    old, new = PendingSignup.objects.order_by("pk")
    eight_days_ago = timezone.now() - timedelta(days=8)
    PendingSignup.objects.filter(pk=old.pk).update(created_at=eight_days_ago, expires_at=eight_days_ago + timedelta(7))

    assert delete_expired_signups.apply().get() == 1
    assert list(PendingSignup.objects.values_list("pk", flat=True)) == [new.pk]
    assert double_opt_in.delete_expired(now=new.expires_at) == 1
    assert not PendingSignup.objects.exists()

    job = settings.CELERY_BEAT_SCHEDULE["delete-expired-signups"]
    assert job["task"] == delete_expired_signups.name and job["task"] in app.tasks
    assert job["schedule"] <= 3600  # an expired signup lives at most an hour past its 7 days


def test_the_data_export_holds_each_confirmation_and_the_wording_agreed_to(signup_page, submit, mailbox):
    submit(signup_page, email=ADA, first_name="Ada", channels=["postal_marketing"])
    [link] = mailbox.links()
    follow(link)
    signup_page.consent_text = "<p>A later wording nobody here agreed to.</p>"
    signup_page.save_revision().publish()

    data = export_person("ADA@example.com")
    [confirmation] = data["signup_confirmations"]
    assert confirmation["wording"] == CONSENT
    assert confirmation["page_id"] == signup_page.pk and confirmation["page_title"] == "Offers newsletter"
    assert confirmation["channels"] == [Channel.EMAIL_MARKETING, Channel.POSTAL_MARKETING]
    assert confirmation["requested_at"] <= confirmation["confirmed_at"]
    opt_ins = [event for event in data["consent_events"] if event["action"] == "opt_in"]
    assert {event["signup_confirmation"] for event in opt_ins} == {confirmation["id"]}
    assert {event["source"] for event in opt_ins} == {Source.SIGNUP}
    assert data["contact"]["consent_basis"] == "consent (double opt-in)"
    assert data["memberships"][0]["audience"] == "Newsletter"
