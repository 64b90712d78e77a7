"""A stand-in for Brevo's smtp/email API.

Rendered as Brevo does for a batch: each message version's params fill
{{ params.NAME }} in the subject and contents, its headers are layered over the
message's, and X-Mailin-custom carries the metadata. Brevo answers one message id per
version; refusals come back as webhook events.
"""

import json
import re
import uuid

from .base import Api, StandIn, headers_list

_PARAM = re.compile(r"\{\{\s*params\.(\w+)\s*\}\}")


def substitute(text, params):
    return _PARAM.sub(lambda match: str(params.get(match.group(1), "")), text or "")


class BrevoApi(Api):
    failure = {"code": "stand_in", "message": "Stand-in failure"}

    def is_send(self, path):
        return path == "/v3/smtp/email"

    def api(self, request):
        if not (request.method == "POST" and self.is_send(request.path)):
            return 404, {"code": "not_found", "message": f"no stand-in for {request.path}"}, {}
        body = request.json()
        versions = body.get("messageVersions") or [{"to": body["to"]}]
        ids = []
        self.call(request, sum(len(version["to"]) for version in versions))
        for version in versions:
            params = body.get("params", {}) | version.get("params", {})
            for to in version["to"]:

                def render(to=to, params=params, version=version):
                    headers = body.get("headers", {}) | version.get("headers", {})
                    return {
                        "To": to["email"],
                        "Subject": substitute(version.get("subject", body.get("subject")), params),
                        "HtmlBody": substitute(body.get("htmlContent"), params),
                        "TextBody": substitute(body.get("textContent"), params),
                        "Headers": headers_list(headers),
                        "Metadata": json.loads(headers.get("X-Mailin-custom", "{}")),
                    }

                self.accept(to["email"], render)
            ids.append(f"<{uuid.uuid4().hex}@smtp-relay.mailin.fr>")
        if "messageVersions" in body:
            return 201, {"messageIds": ids}, {}
        return 201, {"messageId": ids[0]}, {}


class StandInBrevo(StandIn):
    api_class = BrevoApi
    path = "v3/"
