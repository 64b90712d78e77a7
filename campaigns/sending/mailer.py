"""The promotional mailer a worker sends batches through, kept open between batches where
its client reconnects by itself.

An anymail backend's client (a requests session, a boto3 client) survives the server
closing an idle connection, and making one anew is not free: Amazon SES's boto3 client took
95 ms, a fifth of a 500-recipient batch. An SMTP session is dropped by its server when idle,
so the SMTP and file backends are opened and closed with each batch as before.
"""

import threading
from contextlib import contextmanager

from anymail.backends.base import AnymailBaseBackend
from django.core.mail import mailers

from .delivery_errors import UNAVAILABLE, BackendUnavailable, classify

ALIAS = "promotional"
_kept = threading.local()  # per thread: a backend instance is not made to be shared


def kept_open(gateway):
    """Whether the gateway may stay open after a batch: an anymail backend's may."""
    return isinstance(gateway.backend, AnymailBaseBackend)


def _take():
    """The gateway kept from the last batch when the mailer's settings are unchanged (tests
    change them), else a new one."""
    config = mailers.settings.get(ALIAS)
    gateway = getattr(_kept, "gateway", None)
    _kept.gateway = None
    if gateway is not None and _kept.config == config:
        return gateway
    if gateway is not None:
        gateway.close()
    _kept.config = config
    return mailers[ALIAS]


@contextmanager
def promotional_gateway():
    """The promotional mailer, open; BackendUnavailable when its backend cannot be reached.
    After an error it is closed, so the next batch starts on a new client."""
    gateway = _take()
    try:
        gateway.open()  # a no-op when kept open
    except Exception as error:
        gateway.close()
        if classify(error) != UNAVAILABLE:
            raise
        raise BackendUnavailable(f"{type(error).__name__}: {error}") from error
    try:
        yield gateway
    except BaseException:
        gateway.close()
        raise
    if kept_open(gateway):
        _kept.gateway = gateway
    else:
        gateway.close()
