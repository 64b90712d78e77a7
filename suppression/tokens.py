"""Signed unsubscribe tokens: bound to an address and a campaign, never expiring.

The signature (HMAC-SHA256 over SECRET_KEY) makes them unguessable; nothing in them
is sequential, so they cannot be enumerated. They never expire because CAN-SPAM wants
an opt-out to work for at least 30 days and a person may find an old email any time.
"""

from django.conf import settings
from django.core import signing

_SIGNER = signing.Signer(salt="mailroom.unsubscribe.v1")


class BadToken(Exception):
    """The token was forged, truncated or altered."""


def make_token(address, campaign_id=None):
    return _SIGNER.sign_object([address, campaign_id or 0])


def read_token(token):
    """Return (address, campaign_id or None); raise BadToken for anything not ours."""
    try:
        address, campaign_id = _SIGNER.unsign_object(token)
    except (signing.BadSignature, ValueError, TypeError) as error:
        raise BadToken(str(error)) from error
    if not isinstance(address, str) or not isinstance(campaign_id, int):
        raise BadToken("malformed payload")
    return address, (campaign_id or None)


def unsubscribe_url(address, campaign_id=None):
    return f"{settings.MAILROOM_BASE_URL}/u/{make_token(address, campaign_id)}/"
