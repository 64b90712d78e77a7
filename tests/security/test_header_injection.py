"""No header value with a line break leaves, on any path: the pre-encoded MIME path (SMTP and
the outbox; it once wrote a CRLF address into To: and so a real Bcc:), Django EmailMessages
(any other backend, test sends, account mail), the Postmark batch, and the gateway itself
for any message Django or anyone else hands it. The recipient at fault fails with the
reason; everyone else in the batch is sent."""

import email
import email.policy

import pytest
from anymail.utils import EmailAddress
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, mailers

from accountmail import handoff
from accountmail.models import AccountMessage
from accountmail.tasks import send_account_email, send_account_message
from campaigns.models import Delivery
from campaigns.proofs import send_test
from cms.models import EmailPage
from config.settings.base import gateway_mailer
from suppression.gateway import HeaderInjection
from tests.factories import make_audience, make_campaign, make_page, send_until_idle, start, stored_without_checks
from tests.security.staff import staff_user

pytestmark = pytest.mark.django_db
SPY = "spy@evil.example"
INJECTED = f"\r\nBcc: {SPY}"


@pytest.fixture
def campaign(sender_settings):

    audience = make_audience("Customers", [("ada@example.com", "Ada")])
    stored_without_checks(audience, f"eve@example.com{INJECTED}")
    stored_without_checks(audience, "mallory@example.com", first_name=f"Mallory{INJECTED}")  # in the subject
    campaign = make_campaign(make_page(subject="{first_name|Hello}, new offers"), audience)
    start(campaign)
    return campaign


def outcomes(campaign):
    return {
        delivery.contact.email.split("\r")[0]: (delivery.status, delivery.reason)
        for delivery in Delivery.objects.filter(campaign=campaign).select_related("contact")
    }


def assert_only_ada_was_sent(campaign):
    result = outcomes(campaign)
    assert result["ada@example.com"] == ("sent", "")
    for address in ("eve@example.com", "mallory@example.com"):
        status, reason = result[address]
        assert status == "failed" and "HeaderInjection" in reason and "line break" in reason, result


def test_pre_encoded_mime_path_never_writes_an_injected_header(campaign, outbox_dir):
    send_until_idle(campaign)
    sent = [email.message_from_bytes(p.read_bytes(), policy=email.policy.strict) for p in outbox_dir.glob("*.eml")]
    assert [message["To"] for message in sent] == ["ada@example.com"]
    assert not [message for message in sent if "Bcc" in message or SPY in message.as_string()]
    assert_only_ada_was_sent(campaign)


def test_django_email_message_path_refuses_too(campaign, settings):
    settings.MAILERS = settings.MAILERS | {
        "promotional": gateway_mailer("promotional", "django.core.mail.backends.locmem.EmailBackend", {})
    }
    mail.outbox = []
    send_until_idle(campaign)
    assert [message.to for message in mail.outbox] == [["ada@example.com"]]
    assert_only_ada_was_sent(campaign)


@pytest.mark.parametrize("batch", [True, False], ids=["batch", "single"])
def test_postmark_paths_refuse_only_the_recipient_at_fault(campaign, postmark_mailers, settings, batch):
    settings.MAILROOM_ESP_BATCH = batch
    send_until_idle(campaign)
    received = postmark_mailers.messages()
    assert [message["To"] for message in received] == ["ada@example.com"]
    assert SPY not in str(received)
    assert_only_ada_was_sent(campaign)


def test_test_sends_refuse_an_injected_subject(sender_settings, settings, outbox_dir):
    settings.MAILROOM_TEST_RECIPIENTS = ["@example.com"]
    page = make_page()
    EmailPage.objects.filter(pk=page.pk).update(subject=f"Offers{INJECTED}")  # saved before pages refused it
    page.refresh_from_db()
    results = send_test(page, ["ada@example.com"], user=staff_user("Marketer"))
    assert results["ada@example.com"].startswith("failed: HeaderInjection")
    assert not list(outbox_dir.glob("*.eml"))


@pytest.mark.parametrize(
    "field, value",
    [
        ("to", [f"ada@example.com{INJECTED}"]),
        ("subject", f"Your order{INJECTED}"),
        ("from_email", f"Shop <shop@example.com>{INJECTED}"),
        ("reply_to", [f"help@example.com{INJECTED}"]),
        ("extra_headers", {"X-Order": f"42{INJECTED}"}),
        ("extra_headers", {f"X-Order: 42{INJECTED}": "1"}),
        ("cc", [f"cc@example.com{INJECTED}"]),
        # An address already split (an ESP batch's): its display name is checked unformatted.
        ("to", [EmailAddress(f"Ada\u2028Bcc: {SPY}", "ada@example.com")]),
        (
            "merge_headers",
            {"ada@example.com": {"List-Unsubscribe": "<https://x.example/u/1/>", "X-Order": f"42{INJECTED}"}},
        ),
    ],
)
def test_the_gateway_refuses_any_message_with_a_line_break_in_a_header(field, value, outbox_dir):
    message = EmailMessage("Your order", "Thanks.", "shop@example.com", ["ada@example.com"])
    setattr(message, field, value)
    with pytest.raises(HeaderInjection), mailers["default"] as gateway:
        gateway.send_messages([message])
    with mailers["default"] as gateway:
        [outcome] = gateway.send_batch([message])
    assert not outcome.sent and outcome.error.startswith("HeaderInjection")
    assert not list(outbox_dir.glob("*.eml"))


def test_the_refusal_names_the_header_at_fault_among_many(outbox_dir):
    message = EmailMessage("Your order", "Thanks.", "shop@example.com", [f"p{n}@example.com" for n in range(50)])
    message.merge_headers = {f"p{n}@example.com": {"X-Order": str(n)} for n in range(50)}
    message.merge_headers["p31@example.com"]["X-Note"] = f"fine\x0b{SPY}"
    with mailers["default"] as gateway:
        [outcome] = gateway.send_batch([message])
    assert outcome.error == "HeaderInjection: the X-Note header contains a line break"
    assert not list(outbox_dir.glob("*.eml"))


def test_account_mail_refuses_an_injected_recipient_or_subject(outbox_dir):
    with pytest.raises(HeaderInjection):
        send_account_email([f"ada@example.com{INJECTED}"], "Your order", "Thanks.")
    with pytest.raises(HeaderInjection):
        send_account_email(["ada@example.com"], f"Your order{INJECTED}", "Thanks.")
    assert not AccountMessage.objects.exists()  # refused to the caller, never kept
    assert send_account_message(handoff.keep(["ada@example.com"], "Your order", "Thanks.")) == 1
    assert len(list(outbox_dir.glob("*.eml"))) == 1


def test_editors_cannot_store_a_header_with_a_line_break(sender_settings):
    """The sender name and subject become headers of every message: refused where they are typed."""
    sender_settings.from_name = f"Offers{INJECTED}"
    with pytest.raises(ValidationError) as refused:
        sender_settings.full_clean()
    assert "One line only" in str(refused.value.message_dict["from_name"])
    for field in ("subject", "sender_name"):
        page = EmailPage(title="Offers", slug="offers", subject="Offers", body=[])
        setattr(page, field, f"Offers{INJECTED}")
        with pytest.raises(ValidationError) as refused:
            page.clean_fields(exclude=["path", "depth", "content_type"])
        assert list(refused.value.message_dict) == [field]
