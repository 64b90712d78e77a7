"""SIGKILL mid-send: a promotional worker on the SMTP path and on the ESP batch path, beat
while a campaign is due, the account worker with a message in hand."""

import time

import pytest

from accountmail.models import AccountMessage
from accountmail.tasks import send_account_email
from tests.factories import in_hand, without_outcome

from .conftest import LEASE, assert_nothing_lost, due_campaign, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
TOTAL = 3_000


def kill_one_of_two_workers(stack, campaign, received):
    """Two promotional workers (one process each, as in the bench) and beat; one is killed
    once a quarter of the campaign is out and a replacement started. Returns the seconds
    from the kill until every row it held was sent by another."""
    victim, _ = stack.workers(2)
    stack.beat()
    wait_for(lambda: len(received()) >= TOTAL // 4, 90, "a quarter of the campaign")
    held = in_hand(campaign.pk)
    victim.kill()
    killed_at = time.monotonic()
    assert held  # a quarter of the way in, the workers hold their batches
    stack.workers(1)
    still_held = without_outcome(held)
    wait_for(lambda: not still_held.exists(), 60, "the killed worker's rows to be sent")
    return time.monotonic() - killed_at


def test_sigkill_of_a_promotional_worker_on_the_smtp_path(stack, smtp_sink):
    campaign = due_campaign(TOTAL)
    recovered = kill_one_of_two_workers(stack, campaign, smtp_sink.inbox.recipients)
    duplicates = assert_nothing_lost(campaign, smtp_sink.inbox.recipients, TOTAL)
    print(
        f"\nSIGKILL, SMTP path: {duplicates} sent twice; the dead worker's rows sent {recovered:.1f} s after the kill"
    )
    assert recovered < 60


def test_sigkill_of_a_promotional_worker_on_the_esp_batch_path(stack, esp_sink):
    campaign = due_campaign(TOTAL)
    recovered = kill_one_of_two_workers(stack, campaign, esp_sink.recipients)
    duplicates = assert_nothing_lost(campaign, esp_sink.recipients, TOTAL)
    calls = esp_sink.calls()
    print(f"\nSIGKILL, ESP batch path: {duplicates} sent twice; rows sent {recovered:.1f} s after the kill")
    assert max(calls) <= 50 and len(calls) >= TOTAL // 50  # batch calls, a chunk each
    assert recovered < 60


def test_beat_killed_and_restarted_while_a_campaign_is_due_starts_it_once(stack, smtp_sink):
    campaign = due_campaign(500)
    beat = stack.beat()
    ticks = "Sending due task start-due-campaigns"
    wait_for(lambda: beat.output().count(ticks) >= 2, 30, "beat to queue its scan twice")
    beat.kill()
    beat = stack.beat()  # on the same schedule file, as the Procfile's beat restarts
    wait_for(lambda: beat.output().count(ticks) >= 2, 30, "the restarted beat to queue it twice more")
    stack.workers(1)  # only now: every scan queued meanwhile asks to start the campaign
    assert_nothing_lost(campaign, smtp_sink.inbox.recipients, 500, faults=0)
    logs = stack.logs().splitlines()
    starts = sum("campaigns.tasks.start_campaign[" in line and line.endswith("received") for line in logs)
    print(f"\nbeat killed while due: {starts} start tasks ran, the campaign started once")
    assert starts >= 2
    assert sum(line.endswith(f"Campaign {campaign.pk} started sending.") for line in logs) == 1


def test_account_worker_killed_with_a_message_in_hand_delivers_it_once_after_restart(stack, smtp_sink):
    inbox = smtp_sink.inbox
    inbox.holding.add("buyer@shop.example")  # the server waits before answering its RCPT TO
    [worker] = stack.workers(1, queues="account")
    stack.beat()
    send_account_email(["buyer@shop.example"], "Your order #1001", "Thanks for your order.")
    wait_for(inbox.held.is_set, 30, "the worker to be handing it off")
    worker.kill()
    inbox.holding.clear()
    stack.workers(1, queues="account")
    restarted = time.monotonic()
    wait_for(lambda: "buyer@shop.example" in inbox.recipients(), 60, "the account message")
    print(f"\naccount worker killed mid-hand-off: delivered {time.monotonic() - restarted:.1f} s after restart")
    time.sleep(LEASE + 3)  # a second hand-off would come within a lease and a beat tick
    assert inbox.recipients().count("buyer@shop.example") == 1
    assert not AccountMessage.objects.exists()
