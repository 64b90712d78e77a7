"""A batch's recipients, split without anymail's parser, are the addresses anymail's
parser would have made: the same addr-spec and the same formatted forms."""

import pytest
from anymail.utils import parse_address_list

from campaigns.sending.esp.addresses import split
from suppression.addresses import clean_address

ADDRESSES = [
    "ada@example.com",
    "Grace.Hopper+offers@example.co.uk",
    "o'neil@example.com",
    "first.last@sub.example.org",
    "x@xn--bcher-kva.example",
    "#!$%&*/=?^_`{|}~-@example.com",
    "ünïcode@example.com",
]


@pytest.mark.parametrize("raw", ADDRESSES)
def test_split_address_is_what_anymail_parses(raw):
    address, _ = clean_address(raw)
    [parsed] = parse_address_list([address])
    mine = split(address)
    assert mine.addr_spec == parsed.addr_spec == address
    assert mine.format() == parsed.format() and mine.address == parsed.address
    assert mine.format_addr_spec(idna_encode=str) == parsed.format_addr_spec(idna_encode=str)
    assert mine.as_dict() == parsed.as_dict()
