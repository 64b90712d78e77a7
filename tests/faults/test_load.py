"""Load, not breakage: two campaigns sending at once while account mail is queued, and a
hand-off slower than a lease (a live worker never loses its rows)."""

import time

import pytest

from accountmail.tasks import send_account_email

from .conftest import assert_nothing_lost, due_campaign, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_account_mail_is_handed_off_within_2_s_while_two_campaigns_send(stack, smtp_sink):
    inbox = smtp_sink.inbox
    campaigns = [due_campaign(1_500, "Spring"), due_campaign(1_500, "Autumn")]
    stack.workers(1, concurrency=2)  # as in the Procfile: one worker per queue
    stack.workers(1, queues="account")
    stack.beat()
    wait_for(lambda: len(inbox.recipients()) >= 300, 90, "both campaigns to be sending")
    waits = []
    for n in range(5):
        address = f"buyer{n}@shop.example"
        queued_at = time.monotonic()
        send_account_email([address], f"Your order #{n}", "Thanks for your order.")
        wait_for(lambda address=address: address in inbox.recipients(), 30, f"account message {n}", tick=0.02)
        waits.append(time.monotonic() - queued_at)
        time.sleep(0.5)
    print(f"\naccount mail during two campaigns: handed off after {', '.join(f'{w:.2f}' for w in waits)} s")
    assert max(waits) < 2.0
    for campaign in campaigns:
        assert_nothing_lost(campaign, inbox.recipients, 1_500, faults=0)


def test_a_hand_off_slower_than_a_lease_keeps_its_rows(stack, smtp_sink):
    stack.env |= {"MAILROOM_CLAIM_LEASE_SECONDS": "2", "MAILROOM_BATCH_SIZE": "100"}
    smtp_sink.inbox.data_delay = 0.06  # one chunk of 50 takes 3 s: longer than the lease
    campaign = due_campaign(400)
    stack.workers(1)
    stack.beat()
    wait_for(lambda: len(smtp_sink.inbox.recipients()) >= 60, 60, "the first worker to be well into a chunk")
    stack.workers(1)  # looks for work while the first still sends the batch it claimed 3 s ago
    duplicates = assert_nothing_lost(campaign, smtp_sink.inbox.recipients, 400, faults=0)
    print(f"\nchunks of 3 s under a 2 s lease: {duplicates} sent twice")
    assert duplicates == 0
