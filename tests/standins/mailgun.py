"""A stand-in for Mailgun's messages API (POST /<domain>/messages, form-encoded).

Rendered as Mailgun does for batch sends: `%recipient.KEY%` in the subject, bodies and
every h: (header) and v: (custom data) field takes the recipient's recipient-variables.
Mailgun answers one id for the whole call; refusals come back only as webhook events.
"""

import json
import re
import uuid
from email.utils import parseaddr

from .base import Api, StandIn, headers_list

_RECIPIENT_VAR = re.compile(r"%recipient\.([^%]+)%")


def bare(address):
    """The address of a To field; parseaddr (slow beside the rest) only for a "Name <addr>"."""
    return parseaddr(address)[1] if "<" in address else address.strip()


def substitute(text, variables):
    return _RECIPIENT_VAR.sub(lambda match: str(variables.get(match.group(1), "")), text or "")


class MailgunApi(Api):
    failure = {"message": "Stand-in failure"}

    def is_send(self, path):
        return path.endswith("/messages")

    def api(self, request):
        if not (request.method == "POST" and self.is_send(request.path)):
            return 404, {"message": f"no stand-in for {request.method} {request.path}"}, {}
        form = request.form()
        field = lambda name: form.get(name, [""])[0]  # noqa: E731
        variables = json.loads(field("recipient-variables") or "{}")
        to = [bare(address) for address in form.get("to", [])]
        self.call(request, len(to))
        for address in to:
            mine = variables.get(address, {})

            def render(address=address, mine=mine):
                return {
                    "To": address,
                    "Subject": substitute(field("subject"), mine),
                    "HtmlBody": substitute(field("html"), mine),
                    "TextBody": substitute(field("text"), mine),
                    "Headers": headers_list(
                        {name[2:]: substitute(values[0], mine) for name, values in form.items() if name[:2] == "h:"}
                    ),
                    "Metadata": {
                        name[2:]: substitute(values[0], mine) for name, values in form.items() if name[:2] == "v:"
                    },
                }

            self.accept(address, render)
        domain = request.path.strip("/").split("/")[-2]
        return 200, {"id": f"<{uuid.uuid4().hex}@{domain}>", "message": "Queued. Thank you."}, {}


class StandInMailgun(StandIn):
    api_class = MailgunApi
    path = "v3/"
