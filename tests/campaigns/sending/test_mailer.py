"""The promotional mailer: an ESP's client kept open between batches, SMTP reopened each time."""

import pytest

from campaigns.sending.mailer import promotional_gateway


def test_an_esp_client_stays_open_between_batches_until_the_mailer_changes(postmark_mailers, settings):
    with promotional_gateway() as first:
        session = first.backend.session
        assert session is not None
    with promotional_gateway() as second:
        assert second is first and second.backend.session is session  # not made anew
    settings.MAILERS = settings.MAILERS | {"promotional": settings.MAILERS["default"]}
    with promotional_gateway() as third:
        assert third is not first
    assert first.backend.session is None  # the one left behind was closed


def test_after_an_error_the_next_batch_gets_a_new_client(postmark_mailers):
    with pytest.raises(RuntimeError), promotional_gateway() as failed:
        raise RuntimeError("the batch broke")
    assert failed.backend.session is None
    with promotional_gateway() as gateway:
        assert gateway is not failed and gateway.backend.session is not None


def test_an_smtp_session_is_closed_after_each_batch(smtp_mailers):
    with promotional_gateway() as first:
        assert first.backend.connection is not None
    assert first.backend.connection is None
    with promotional_gateway() as second:
        assert second is not first
