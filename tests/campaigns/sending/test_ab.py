"""A/B subject tests on every sending path (SMTP's pre-encoded MIME, anymail's Postmark
backend per message and in template batches against the stand-in): a random test share gets
the variants, real Postmark Open and Click webhooks posted to anymail's webhook URL decide
the winner, or a marketer picks it on the report; the rest gets the winner, nobody twice."""

import base64
import collections
import email
import json
import time
from datetime import timedelta
from email import policy as email_policy

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns import checklist, tasks
from campaigns.models import Campaign, Delivery, SubjectVariant, WinnerMetric
from campaigns.sending import ab, lifecycle, pipeline, snapshot
from tests.campaigns.admin.test_campaigns import make_user
from tests.factories import make_audience, make_campaign, make_page, send_until_idle, start

pytestmark = pytest.mark.django_db

PEOPLE = [(f"person{number:02d}@example.com", f"P{number}") for number in range(20)]
SUBJECTS = ["{first_name|Hi}, winter deals", "Last chance, {first_name|friend}", "Our courses for {first_name}"]
AUTH = "Basic " + base64.b64encode(b"hook:secret").decode()


@pytest.fixture(autouse=True)
def webhook_secret(settings, sender_settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook:secret"}


def parsed(content):
    return email.message_from_bytes(content, policy=email_policy.default)


@pytest.fixture(params=["smtp", "postmark-batch", "postmark-single"])
def received(request, sender_settings, settings):
    """The sending path under test; returns a function giving [(address, subject)] received."""
    if request.param == "smtp":
        inbox = request.getfixturevalue("smtp_mailers")
        return lambda: [(rcpts[0], str(parsed(content)["Subject"])) for _, rcpts, content in inbox.messages]
    postmark = request.getfixturevalue("postmark_mailers")
    settings.MAILROOM_ESP_BATCH = request.param == "postmark-batch"
    return lambda: [(message["To"], message["Subject"]) for message in postmark.messages()]


def ab_campaign(subjects=SUBJECTS[:2], share=40, metric=WinnerMetric.OPENS, people=PEOPLE, audience="Customers"):
    campaign = make_campaign(make_page(), make_audience(audience, people))
    Campaign.objects.filter(pk=campaign.pk).update(test_share=share, test_metric=metric)
    SubjectVariant.objects.bulk_create(
        SubjectVariant(campaign=campaign, label=label, subject=subject)
        for label, subject in zip(ab.LABELS, subjects, strict=False)
    )
    start(campaign)
    campaign.refresh_from_db()
    return campaign


def personal(subject, first_name):
    """A variant's subject as one person gets it."""
    for field in ("{first_name|Hi}", "{first_name|friend}", "{first_name}"):
        subject = subject.replace(field, first_name)
    return subject


def first_names():
    return dict(PEOPLE)


def variant_of(campaign, address):
    return Delivery.objects.select_related("variant").get(campaign=campaign, contact__email=address).variant


def wait_is_over(campaign):
    Campaign.objects.filter(pk=campaign.pk).update(test_ends_at=timezone.now() - timedelta(seconds=1))


def postmark_event(client, record_type, delivery):
    """Postmark's documented Open or Click webhook body, as it posts it for `delivery`."""
    payload = {
        "RecordType": record_type,
        "MessageStream": "broadcast",
        "Metadata": {"campaign": str(delivery.campaign_id), "delivery": str(delivery.pk)},
        "Client": {"Name": "Chrome 35.0.1916.153", "Company": "Google", "Family": "Chrome"},
        "OS": {"Name": "OS X 10.7 Lion", "Company": "Apple Computer, Inc.", "Family": "OS X 10"},
        "Platform": "WebMail",
        "UserAgent": "Mozilla/5.0",
        "Geo": {},
        "MessageID": f"00000000-0000-0000-0000-{delivery.pk:012d}",
        "ReceivedAt": "2026-11-25T01:35:00Z",
        "Tag": "offers",
        "Recipient": delivery.contact.email,
    }
    if record_type == "Open":
        payload |= {"FirstOpen": True, "ReadSeconds": 5}
    else:
        payload |= {"ClickLocation": "HTML", "OriginalLink": "https://example.com/offers"}
    response = client.post(
        "/webhooks/anymail/postmark/tracking/",
        data=json.dumps(payload),
        content_type="application/json",
        HTTP_AUTHORIZATION=AUTH,
    )
    assert response.status_code == 200


def test_the_esps_events_decide_the_winner_and_the_rest_gets_it(client, received):
    campaign = ab_campaign(share=40)
    held = Delivery.objects.filter(campaign=campaign, status=Delivery.Status.HELD)
    assert held.count() == 12 and not held.filter(variant__isnull=False).exists()
    send_until_idle(campaign)
    test_share = received()
    assert len(test_share) == 8
    for address, subject in test_share:  # each got its own variant's subject, personalised
        assert subject == personal(variant_of(campaign, address).subject, first_names()[address])
    assert sorted(variant_of(campaign, address).label for address, _ in test_share) == list("AAAABBBB")
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENDING  # the rest waits for the winner

    sent_b = Delivery.objects.filter(campaign=campaign, variant__label="B").select_related("contact")
    sent_a = Delivery.objects.filter(campaign=campaign, variant__label="A").select_related("contact")
    for delivery in sent_b[:2]:
        postmark_event(client, "Open", delivery)
    postmark_event(client, "Open", sent_a[0])
    postmark_event(client, "Click", sent_a[0])  # clicks do not count when opens decide
    assert ab.settle() == [] and held.count() == 12  # the wait is not over

    wait_is_over(campaign)
    assert ab.settle() == [campaign.pk]
    campaign.refresh_from_db()
    assert campaign.winner.label == "B"
    send_until_idle(campaign)

    everyone = received()
    assert sorted(address for address, _ in everyone) == sorted(first_names())  # each person once
    for address, subject in everyone[8:]:
        assert subject == personal(SUBJECTS[1], first_names()[address])
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT
    rows = {row.variant.label: row for row in ab.figures(campaign)}
    assert (rows["A"].sent, rows["A"].opened, rows["A"].clicked, rows["A"].won) == (4, 1, 1, False)
    assert (rows["B"].sent, rows["B"].opened, rows["B"].won) == (16, 2, True)


def test_clicks_decide_when_the_campaign_says_so(client, outbox_dir):
    campaign = ab_campaign(share=40, metric=WinnerMetric.CLICKS)
    send_until_idle(campaign)
    for delivery in Delivery.objects.filter(campaign=campaign, variant__label="A").select_related("contact")[:2]:
        postmark_event(client, "Open", delivery)
    postmark_event(client, "Click", Delivery.objects.filter(campaign=campaign, variant__label="B").first())
    wait_is_over(campaign)
    ab.settle()
    assert Campaign.objects.get(pk=campaign.pk).winner.label == "B"


def test_a_tie_goes_to_the_first_variant(outbox_dir):
    campaign = ab_campaign(subjects=SUBJECTS, share=60)
    send_until_idle(campaign)
    wait_is_over(campaign)
    ab.settle()
    assert Campaign.objects.get(pk=campaign.pk).winner.label == "A"


def test_a_marketer_picks_the_winner_on_the_report(client, outbox_dir):
    campaign = ab_campaign(subjects=SUBJECTS, share=30, metric=WinnerMetric.MANUAL)
    send_until_idle(campaign)
    wait_is_over(campaign)
    assert ab.settle() == []  # picked by hand: the wait alone decides nothing
    client.force_login(make_user("mia", "Marketers"))
    report = client.get(reverse("campaign:inspect", args=[campaign.pk])).content.decode()
    assert report.count("Pick this winner") == 3 and "Subject test" in report
    assert "Last chance, {first_name|friend}" in report and "The rest waits until you pick the winner" in report

    chosen = campaign.variants.get(label="C")
    response = client.post(reverse("campaign:pick_winner", args=[campaign.pk]), {"variant": chosen.pk}, follow=True)
    assert "Subject C won" in response.content.decode()
    assert "Pick this winner" not in response.content.decode()
    other = campaign.variants.get(label="A")
    again = client.post(reverse("campaign:pick_winner", args=[campaign.pk]), {"variant": other.pk}, follow=True)
    assert "no subject test waiting for a winner" in again.content.decode()

    assert ab.settle() == [campaign.pk]  # the task the pick queued, run here
    send_until_idle(campaign)
    report = client.get(reverse("campaign:inspect", args=[campaign.pk])).content.decode()
    assert "Subject C won." in report and report.count("Winner") == 1
    assert report.index('data-variant="C"') < report.index("Winner")
    rest = Delivery.objects.filter(campaign=campaign).exclude(variant__label__in=["A", "B"])
    assert rest.count() == 16  # C: its 2 of the test share (6: 2 each) and the 14 held
    assert set(rest.values_list("status", flat=True)) == {Delivery.Status.SENT}
    assert Campaign.objects.get(pk=campaign.pk).winner == chosen


def test_staff_who_may_not_change_campaigns_cannot_pick_a_winner(client, outbox_dir):
    campaign = ab_campaign(metric=WinnerMetric.MANUAL)
    client.force_login(make_user("eddie"))
    variant = campaign.variants.first()
    response = client.post(reverse("campaign:pick_winner", args=[campaign.pk]), {"variant": variant.pk})
    assert response.status_code in (302, 403) and Campaign.objects.get(pk=campaign.pk).winner is None


def recipients_in(outbox_dir):
    return [parsed(path.read_bytes())["To"] for path in outbox_dir.glob("*.eml")]


def test_a_variant_is_never_sent_twice_to_one_person(outbox_dir):
    people = [(f"p{number:03d}@example.com", "P") for number in range(100)]
    campaign = ab_campaign(subjects=SUBJECTS, share=30, people=people)
    split = dict(Delivery.objects.filter(campaign=campaign, variant__isnull=False).values_list("pk", "variant__label"))
    assert sorted(split.values()) == sorted("ABC" * 10)  # 30% at random, in turn
    send_until_idle(campaign)
    snapshot.snapshot(campaign)  # a second snapshot adds nobody
    wait_is_over(campaign)
    assert ab.settle() == [campaign.pk]
    assert ab.settle() == [] and ab.release(campaign.pk) is None  # released once
    assert ab.choose(campaign.pk, campaign.variants.get(label="B").pk) is False  # decided once
    send_until_idle(campaign)
    assert sorted(recipients_in(outbox_dir)) == sorted(address for address, _ in people)
    after = dict(Delivery.objects.filter(pk__in=split).values_list("pk", "variant__label"))
    assert after == split  # the test share kept its variant: nobody moved to the winner
    assert Delivery.objects.filter(campaign=campaign).count() == 100


def test_the_split_is_random(outbox_dir):
    people = [(f"q{number:03d}@example.com", "Q") for number in range(60)]
    first, second = (ab_campaign(share=50, people=people, audience=f"Customers {n}") for n in range(2))

    def split(campaign):
        return set(Delivery.objects.filter(campaign=campaign, variant__label="A").values_list("contact_id", flat=True))

    assert len(split(first)) == 15 and split(first) != split(second)


def test_a_campaign_without_a_test_sends_as_before(outbox_dir):
    campaign = make_campaign(make_page(), make_audience("Customers", PEOPLE[:3]))
    start(campaign)
    campaign.refresh_from_db()
    assert campaign.test_ends_at is None and not Delivery.objects.filter(status=Delivery.Status.HELD).exists()
    send_until_idle(campaign)
    subjects = {parsed(path.read_bytes())["Subject"] for path in outbox_dir.glob("*.eml")}
    assert subjects == {"P0, new offers", "P1, new offers", "P2, new offers"}


def test_the_checklist_refuses_one_subject_and_unknown_merge_fields(sender_settings):
    campaign = make_campaign(make_page(), make_audience("Customers", PEOPLE[:3]))
    SubjectVariant.objects.create(campaign=campaign, label="A", subject="Hi {nickname}")
    problems = checklist.check(campaign).problems
    assert "Subject A has unknown merge fields: {nickname}." in problems
    assert "An A/B subject test needs at least two subjects." in problems


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_real_workers_send_the_test_then_beats_job_sends_the_winner_to_the_rest(start_worker, smtp_inbox):
    people = [(f"w{number:03d}@example.com", f"W{number}") for number in range(300)]
    campaign = make_campaign(make_page(), make_audience("Workers", people))
    Campaign.objects.filter(pk=campaign.pk).update(test_share=20)
    SubjectVariant.objects.bulk_create(
        SubjectVariant(campaign=campaign, label=label, subject=subject)
        for label, subject in zip(ab.LABELS, SUBJECTS, strict=False)
    )
    for _ in range(2):
        start_worker("promotional", MAILROOM_SEND_CHAINS="2", MAILROOM_BATCH_SIZE="25")
    lifecycle.schedule(campaign)
    tasks.start_campaign.delay(campaign.pk)
    assert len(smtp_inbox.wait_for(60)) == 60
    time.sleep(1)
    assert len(smtp_inbox.messages) == 60  # the rest waits for the winner
    wait_is_over(campaign)
    tasks.start_due_campaigns.delay()  # as beat queues it
    smtp_inbox.wait_for(300, timeout=120)
    deadline = time.monotonic() + 30
    while Campaign.objects.get(pk=campaign.pk).status != Campaign.Status.SENT and time.monotonic() < deadline:
        time.sleep(0.2)
    counts = collections.Counter(smtp_inbox.recipients())
    assert len(counts) == 300 and max(counts.values()) == 1
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT and campaign.winner.label == "A"  # no opens over SMTP: a tie
    assert sum(1 for *_, content in smtp_inbox.messages if "winter deals" in str(parsed(content)["Subject"])) == 260


def test_a_paused_campaign_gets_its_winner_but_sends_it_only_when_resumed(outbox_dir):
    campaign = ab_campaign(share=40)
    send_until_idle(campaign)
    assert lifecycle.pause(campaign.pk)
    wait_is_over(campaign)
    assert ab.settle() == [campaign.pk]
    assert Delivery.objects.filter(campaign=campaign, status=Delivery.Status.PENDING).count() == 12
    assert pipeline.send_next_batch(campaign.pk) == 0  # paused: nothing goes
    assert len(recipients_in(outbox_dir)) == 8
    assert lifecycle.resume(campaign.pk)
    send_until_idle(campaign)
    assert sorted(recipients_in(outbox_dir)) == sorted(first_names())
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.SENT
