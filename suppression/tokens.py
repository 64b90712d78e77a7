"""Signed unsubscribe tokens: opaque, bound to a person and a campaign, never expiring.

A token holds the keyed hash of the address (what the ledger matches on), the campaign id
and the address masked for the page (`a•••@example.com`), signed with SECRET_KEY
(HMAC-SHA256): a forwarded link shows nobody the address, and nobody without the key can
make one. Nothing in it is sequential, so tokens cannot be enumerated. They never expire
because CAN-SPAM wants an opt-out to work for at least 30 days and a person may find an
old email any time.

Tokens of the first format (the address itself in signed base64 JSON) are still read, so
the links in emails sent before keep working.
"""

import base64
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.core import signing

from .addresses import address_hash, mask_address, normalise_address

SALT = "mailroom.unsubscribe.v2"
FORMAT_1_SALT = "mailroom.unsubscribe.v1"
_HASH_BYTES = 32
_CAMPAIGN_BYTES = 8


class BadToken(Exception):
    """The token was forged, truncated or altered."""


@dataclass(frozen=True)
class LinkHolder:
    """The person a token speaks for, as far as the token tells."""

    address_hash: str
    campaign_id: int | None
    masked: str
    address: str = ""  # only first-format tokens carry the address itself


def make_token(address, campaign_id=None, *, hashed=None):
    """`hashed`: the address's keyed hash, when the caller holds it already (a contact's email_hash)."""
    payload = (
        bytes.fromhex(hashed or address_hash(address))
        + (campaign_id or 0).to_bytes(_CAMPAIGN_BYTES, "big")
        + mask_address(address).encode()
    )
    return _signer(settings.SECRET_KEY).sign(base64.urlsafe_b64encode(payload).rstrip(b"=").decode())


@cache
def _signer(key):
    """One Signer per key, for signing only (reading tries the fallback keys too): building
    one per token was a quarter of the time a campaign spends making its tokens."""
    return signing.Signer(key=key, salt=SALT)


def read_token(token):
    """Return the LinkHolder of a token of either format; raise BadToken for anything not ours."""
    try:
        payload = signing.Signer(salt=SALT).unsign(token)
    except signing.BadSignature:
        return _read_first_format(token)
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        masked = raw[_HASH_BYTES + _CAMPAIGN_BYTES :].decode()
    except ValueError as error:  # bad base64 or UTF-8: signed by us, so never expected
        raise BadToken("malformed payload") from error
    if len(raw) < _HASH_BYTES + _CAMPAIGN_BYTES:
        raise BadToken("malformed payload")
    campaign_id = int.from_bytes(raw[_HASH_BYTES : _HASH_BYTES + _CAMPAIGN_BYTES], "big")
    return LinkHolder(raw[:_HASH_BYTES].hex(), campaign_id or None, masked)


def _read_first_format(token):
    try:
        address, campaign_id = signing.Signer(salt=FORMAT_1_SALT).unsign_object(token)
    except (signing.BadSignature, ValueError, TypeError) as error:
        raise BadToken(str(error)) from error
    if not isinstance(address, str) or not isinstance(campaign_id, int):
        raise BadToken("malformed payload")
    return LinkHolder(address_hash(address), campaign_id or None, mask_address(address), normalise_address(address))


def unsubscribe_url(address, campaign_id=None, *, hashed=None):
    return f"{settings.MAILROOM_BASE_URL}/u/{make_token(address, campaign_id, hashed=hashed)}/"
