"""Every ESP anymail can batch for (and Resend, one message per call) through the real
pipeline and anymail's real backend to that ESP's stand-in API on loopback: each
recipient's message, rendered from the payload as the ESP would, is theirs alone, with
their own one-click unsubscribe headers and metadata; refusals are per recipient."""

import json

import pytest

from campaigns.models import Campaign, Delivery
from campaigns.sending import pipeline
from campaigns.sending.delivery_errors import BackendUnavailable
from config.settings.base import gateway_mailer
from suppression import policy
from suppression.models import Channel, Source
from tests.factories import make_audience, make_campaign, make_page, send_until_idle, start, stored_without_checks
from tests.standins import esps

pytestmark = pytest.mark.django_db

INJECTED = "Mallory\r\nBcc: spy@evil.example"
# ESPs whose API answers each recipient's refusal in the send call itself; the others
# accept the call and report refused recipients later, as webhook events.
REFUSE_IN_THE_CALL = {"postmark", "mailjet", "amazon_ses"}
ONE_PER_CALL = {"resend"}  # no per-recipient merge data in its batch API


@pytest.fixture(scope="module", params=sorted(esps.ESPS))
def esp_server(request):
    server = esps.start(request.param)
    server.name = request.param
    yield server
    server.stop()


@pytest.fixture
def esp(esp_server, settings):
    """The promotional mailer uses anymail's real backend for the ESP against its stand-in."""
    esp_server.reset()
    backend = esps.backend_path(esp_server.name)
    options = esps.options(esp_server.name, esp_server)
    settings.MAILERS = settings.MAILERS | {"promotional": gateway_mailer("promotional", backend, options)}
    return esp_server


@pytest.fixture
def campaign(sender_settings):
    audience = make_audience("Customers", esps.PEOPLE)
    stored_without_checks(audience, "mallory@example.com", first_name=INJECTED)  # in the subject
    campaign = make_campaign(make_page(subject="{first_name|Hello}, new offers"), audience)
    start(campaign)
    return campaign


def statuses(campaign):
    return {
        delivery.contact.email: (delivery.status, delivery.reason)
        for delivery in Delivery.objects.filter(campaign=campaign).select_related("contact")
    }


def test_each_recipient_gets_their_own_message_and_nothing_of_anyone_else(esp, campaign):
    policy.record_opt_out("optout@example.com", Channel.EMAIL_MARKETING, Source.ONE_CLICK)  # after the snapshot
    send_until_idle(campaign)
    received = {message["To"]: message for message in esp.messages()}
    assert set(received) - {"inactive@example.com"} == {"ada@example.com", "grace@example.com"}
    deliveries = {d.contact.email: d for d in Delivery.objects.filter(campaign=campaign).select_related("contact")}
    urls = {}
    for address, name in (("ada@example.com", "<Ada>"), ("grace@example.com", "Grace")):
        message = received[address]
        assert message["Subject"] == f"{name}, new offers"
        assert f"Hello {name.replace('<', '&lt;').replace('>', '&gt;')}!" in message["HtmlBody"]
        assert f"Hello {name}!" in message["TextBody"]
        headers = {header["Name"].lower(): header["Value"] for header in message["Headers"]}
        url = urls[address] = headers["list-unsubscribe"].strip("<>")
        assert url.startswith("https://mailroom.test/u/")
        assert headers["list-unsubscribe-post"] == "List-Unsubscribe=One-Click"
        assert url in message["HtmlBody"] and url in message["TextBody"]
        delivery = deliveries[address]
        assert headers["x-mailroom-delivery"] == str(delivery.pk)
        assert message["Metadata"].items() >= {"campaign": str(campaign.pk), "delivery": str(delivery.pk)}.items()
        assert delivery.esp_message_id
    # Nothing of Ada (her name, her unsubscribe token) is in Grace's message, and the reverse.
    ada, grace = (json.dumps(received[address]) for address in ("ada@example.com", "grace@example.com"))
    assert "Ada" not in grace and urls["ada@example.com"].rstrip("/").rsplit("/", 1)[-1] not in grace
    assert "Grace" not in ada and urls["grace@example.com"].rstrip("/").rsplit("/", 1)[-1] not in ada
    # Each recipient's own headers and values were in what the backend posted.
    payloads = json.dumps(esp.payloads())
    assert all(url in payloads for url in urls.values())
    assert "spy@evil.example" not in payloads
    calls = esp.calls()
    assert calls == ([1, 1, 1] if esp.name in ONE_PER_CALL else [3])

    result = statuses(campaign)
    assert result["ada@example.com"] == result["grace@example.com"] == ("sent", "")
    assert result["optout@example.com"][0] == "suppressed"
    status, reason = result["mallory@example.com"]
    assert status == "failed" and "HeaderInjection" in reason
    if esp.name in REFUSE_IN_THE_CALL:
        assert result["inactive@example.com"][0] == "failed" and "inactive@example.com" not in received
    else:
        assert result["inactive@example.com"] == ("sent", "")
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT


def test_an_esp_outage_hands_the_rows_back_unsent(esp, campaign):
    esp.fail_next(503)
    with pytest.raises(BackendUnavailable):
        pipeline.send_next_batch(campaign.pk)
    back = list(Delivery.objects.filter(campaign=campaign, status=Delivery.Status.PENDING))
    assert back and all(d.attempts == 0 and d.claimed_until is None for d in back)
    if esp.name not in ONE_PER_CALL:  # the chunk's one call failed: all but Mallory (refused before) come back
        assert len(back) == 4
    assert not {d.contact.email for d in back} & {m["To"] for m in esp.messages()}
    send_until_idle(campaign)
    assert statuses(campaign)["ada@example.com"] == ("sent", "")


def test_a_permanent_esp_error_fails_the_chunk_with_the_reason(esp, campaign):
    esp.fail_next(*[400] * 5)
    send_until_idle(campaign)
    failed = Delivery.objects.filter(campaign=campaign, status=Delivery.Status.FAILED)
    assert failed.count() == 5
    # The ESP's answer (boto3 words Amazon SES's without the status), or Mallory's refusal.
    assert all(any(word in d.reason for word in ("400", "Stand-in failure", "HeaderInjection")) for d in failed)
