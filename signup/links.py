"""Confirmation links of pending signups, and the sealed address only such a link opens.

A pending signup keeps the address and first name encrypted (AES-GCM) under a random key
that is never stored: only the link mailed to the person holds it. A copy of the database
therefore holds no readable address or name of anyone who has not confirmed, and the link
alone (forwarded, or in an access log) holds neither. The link is also signed with
SECRET_KEY and dated, so a forged or altered one is refused before anything is looked up,
and an old one by its date.
"""

import base64
import json
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "mailroom.signup.confirm.v1"
_ID_BYTES = 8
_KEY_BYTES = 16
_NONCE_BYTES = 12


class BadLink(Exception):
    """Forged, altered or cut short: not a link made here."""


class GoneLink(BadLink):
    """A link made here that no longer opens anything: too old, used, or its signup deleted."""


def seal(values):
    """(sealed bytes, key): `values`, a JSON-ready dict, encrypted under a new random key."""
    key = AESGCM.generate_key(bit_length=_KEY_BYTES * 8)
    nonce = os.urandom(_NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, json.dumps(values).encode(), None), key


def unseal(sealed, key):
    """The values sealed under `key`; BadLink if the key is not the one they were sealed with."""
    sealed = bytes(sealed)
    try:
        plain = AESGCM(key).decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], None)
    except (InvalidTag, ValueError) as error:
        raise BadLink("the key does not open this signup") from error
    return json.loads(plain)


def make_token(pending_id, key):
    payload = pending_id.to_bytes(_ID_BYTES, "big") + key
    return signing.TimestampSigner(salt=SALT).sign(base64.urlsafe_b64encode(payload).rstrip(b"=").decode())


def read_token(token, max_age):
    """(pending signup id, key) of a link made here less than `max_age` ago; else BadLink
    (GoneLink when only its age is wrong)."""
    signer = signing.TimestampSigner(salt=SALT)
    try:
        payload = signer.unsign(token, max_age=max_age)
    except signing.SignatureExpired as error:
        raise GoneLink(str(error)) from error
    except signing.BadSignature as error:
        raise BadLink(str(error)) from error
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    except ValueError as error:  # signed by us, so never expected
        raise BadLink("malformed payload") from error
    if len(raw) != _ID_BYTES + _KEY_BYTES:
        raise BadLink("malformed payload")
    return int.from_bytes(raw[:_ID_BYTES], "big"), raw[_ID_BYTES:]


def confirm_url(pending_id, key):
    """The absolute link for the email (MAILROOM_BASE_URL, never the request's Host header)."""
    return settings.MAILROOM_BASE_URL + reverse("signup:confirm", args=[make_token(pending_id, key)])
