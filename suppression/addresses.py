"""Email address normalisation and the keyed hash that identifies a person in the ledger."""

import hashlib
import hmac

from django.conf import settings


def normalise_address(raw):
    """Trim, lower-case and IDNA-encode the domain; keep the local part as written."""
    address = (raw or "").strip()
    local, at, domain = address.rpartition("@")
    if not at:
        return address
    domain = domain.strip().lower()
    if not domain.isascii():  # the IDNA codec returns an ASCII domain unchanged; skip its cost
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            pass  # validation reports it; normalising never raises
    return f"{local}@{domain}"


def address_key(raw):
    """The case-insensitive identity of an address: two variants of one person match."""
    return normalise_address(raw).lower()


def address_hash(raw):
    """Keyed hash of the address key: what the ledger matches on, and all erasure keeps."""
    key = settings.MAILROOM_HASH_KEY.encode()
    return hmac.new(key, address_key(raw).encode(), hashlib.sha256).hexdigest()
