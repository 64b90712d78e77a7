"""A Mailgun batch call goes out as multipart/form-data carrying exactly the fields anymail's
own urlencoded call would, whatever characters the content holds."""

import urllib.parse

import requests
from anymail.backends.mailgun import EmailBackend, MailgunPayload
from anymail.message import AnymailMessage

from campaigns.sending.esp.multipart import MultipartMailgunPayload
from campaigns.sending.esp.table import esp_for
from tests.standins.base import Request

# What percent-encoding exists for: %, &, =, +, line breaks, non-ASCII, and Mailgun's own %…%.
HTML = '<p>Hello %recipient.name%: 100% off &amp; a=b+c, café ☕</p>\r\n<a href="%recipient.url%">Unsubscribe</a>'


def batch():
    message = AnymailMessage(
        subject="Offers for %recipient.name% & co",
        body="Hello %recipient.name%, 50% off.\nUnsubscribe: %recipient.url%",
        from_email="Mailroom <offers@example.com>",
        to=["ada@example.com", "Grace <grace@example.com>"],
        merge_data={
            "ada@example.com": {"name": "<Ada>", "url": "https://mailroom.test/u/a?b=1&c=2"},
            "grace@example.com": {"name": "Grâce", "url": "https://mailroom.test/u/g"},
        },
        merge_headers={
            "ada@example.com": {"List-Unsubscribe": "<https://mailroom.test/u/a?b=1&c=2>"},
            "grace@example.com": {"List-Unsubscribe": "<https://mailroom.test/u/g>"},
        },
        headers={"List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
        metadata={"campaign": "7"},
        merge_metadata={"ada@example.com": {"delivery": "1"}, "grace@example.com": {"delivery": "2"}},
    )
    message.attach_alternative(HTML, "text/html")
    return message


def mailgun():
    return EmailBackend(api_key="stand-in", api_url="https://api.mailgun.test/v3/")


def posted(payload_class):
    """The request the payload makes, as bytes on the wire and its content type."""
    backend = mailgun()
    params = payload_class(batch(), backend.send_defaults, backend).get_request_params(backend.api_url)
    request = requests.Request(**{k: v for k, v in params.items() if k != "auth"}).prepare()
    return request.body, request.headers["Content-Type"]


def test_the_batch_call_is_multipart_with_the_fields_of_the_urlencoded_one():
    body, content_type = posted(MultipartMailgunPayload)
    assert content_type.startswith("multipart/form-data; boundary=")
    assert HTML.encode() in body  # as it is: not percent-encoded again
    fields = Request("POST", "/", {"content-type": content_type}, body).form()

    urlencoded, urlencoded_type = posted(MailgunPayload)
    assert urlencoded_type == "application/x-www-form-urlencoded"
    assert fields == urllib.parse.parse_qs(urlencoded, keep_blank_values=True)
    assert fields["html"] == [HTML] and fields["to"] == ["ada@example.com", "Grace <grace@example.com>"]


def test_mailgun_batches_are_built_with_it():
    assert esp_for(mailgun()).payload is MultipartMailgunPayload
