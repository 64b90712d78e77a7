"""A confirmed opt-in (double opt-in signup) is the one way back after erasure: it reopens only
the channels the person confirmed, logs new consent with its proof, and nothing else a
person, an old link or staff can do reopens an erased person."""

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.privacy import erase_person
from suppression import policy
from suppression.addresses import address_hash
from suppression.models import Channel, ConsentEvent, SignupConfirmation, Source, Suppression

pytestmark = pytest.mark.django_db

ADA = "ada@example.com"
HASH = address_hash(ADA)


def confirm(*channels, wording="<p>Yes, send me offers.</p>"):
    return policy.record_confirmed_opt_in(
        HASH,
        channels,
        wording=policy.keep_wording(wording),
        page_id=4,
        page_title="Offers newsletter",
        page_url="https://example.com/join/",
        requested_at=timezone.now() - timedelta(minutes=5),
    )


def ledger():
    return dict(Suppression.objects.filter(address_hash=HASH).values_list("channel", "source"))


@pytest.fixture
def erased():
    policy.record_opt_out(ADA, Channel.EMAIL_MARKETING, Source.ONE_CLICK, campaign_id=7)
    erase_person(ADA, actor="dpo")
    assert ledger() == dict.fromkeys(policy.PERSONAL_CHANNELS, Source.ERASURE)


def test_nothing_but_a_confirmation_reopens_an_erased_person(erased):
    with pytest.raises(policy.PolicyError):
        policy.record_opt_in(HASH, Channel.EMAIL_MARKETING)
    with pytest.raises(policy.PolicyError):
        policy.undo_opt_out(HASH, 7)
    with pytest.raises(policy.PolicyError):
        policy.set_preferences(HASH, {Channel.EMAIL_MARKETING: True})
    assert ledger() == dict.fromkeys(policy.PERSONAL_CHANNELS, Source.ERASURE)

    proof = confirm(Channel.EMAIL_MARKETING)
    assert policy.blocked([ADA], "promotional") == {}
    # Only what was confirmed: post and sharing stay locked by the erasure.
    assert ledger() == {Channel.POSTAL_MARKETING: Source.ERASURE, Channel.THIRD_PARTY_SHARING: Source.ERASURE}
    event = ConsentEvent.objects.filter(action=ConsentEvent.Action.OPT_IN).get()
    assert (event.channel, event.source, event.actor, event.confirmation) == (
        Channel.EMAIL_MARKETING,
        Source.SIGNUP,
        "the person",
        proof,
    )
    assert policy.erased_since(HASH, timezone.now() - timedelta(hours=1))
    assert not policy.erased_since(HASH, timezone.now())


def test_a_confirmation_reopens_an_unsubscribe_and_is_new_consent_even_where_open():
    policy.record_opt_out(ADA, Channel.EMAIL_MARKETING, Source.LINK)
    proof = confirm(Channel.EMAIL_MARKETING, Channel.POSTAL_MARKETING)
    assert ledger() == {}
    assert sorted(proof.events.values_list("channel", "action", "source")) == [
        (Channel.EMAIL_MARKETING, "opt_in", Source.SIGNUP),
        (Channel.POSTAL_MARKETING, "opt_in", Source.SIGNUP),
    ]
    assert proof.channels == [Channel.EMAIL_MARKETING, Channel.POSTAL_MARKETING]


def test_system_suppressions_are_not_the_persons_to_confirm_away():
    policy.record_opt_out(ADA, Channel.UNDELIVERABLE, Source.BOUNCE)
    with pytest.raises(policy.PolicyError):
        confirm(Channel.UNDELIVERABLE)
    with pytest.raises(policy.PolicyError):
        confirm()
    confirm(Channel.EMAIL_MARKETING)
    assert ledger() == {Channel.UNDELIVERABLE: Source.BOUNCE}  # an Admin lifts it, with a reason
    assert SignupConfirmation.objects.count() == 1


def test_the_proof_is_append_only_and_survives_a_later_erasure():
    proof = confirm(Channel.EMAIL_MARKETING)
    proof.page_title = "rewritten"
    with pytest.raises(ValueError):
        proof.save()
    with pytest.raises(ValueError):
        proof.wording.delete()
    erase_person(ADA, actor="dpo")
    record = policy.person_record(ADA)
    [kept] = record["signup_confirmations"]
    assert kept["wording"] == "<p>Yes, send me offers.</p>" and kept["page_url"] == "https://example.com/join/"
    assert ledger() == dict.fromkeys(policy.PERSONAL_CHANNELS, Source.ERASURE)  # erasure closes it again
