"""A stand-in for Resend's emails API (POST /emails and /emails/batch).

Resend substitutes nothing: each email arrives complete; X-Metadata carries metadata.
"""

import json
import uuid

from .base import Api, StandIn, headers_list


class ResendApi(Api):
    failure = {"statusCode": 500, "name": "internal_server_error", "message": "Stand-in failure"}

    def is_send(self, path):
        return path in ("/emails", "/emails/batch")

    def email(self, email):
        for to in email["to"]:

            def render(to=to):
                headers = email.get("headers", {})
                return {
                    "To": to,
                    "Subject": email.get("subject", ""),
                    "HtmlBody": email.get("html", ""),
                    "TextBody": email.get("text", ""),
                    "Headers": headers_list(headers),
                    "Metadata": json.loads(headers.get("X-Metadata", "{}")),
                }

            self.accept(to, render)
        return {"id": str(uuid.uuid4())}

    def api(self, request):
        if not (request.method == "POST" and self.is_send(request.path)):
            return 404, {"message": f"no stand-in for {request.path}"}, {}
        body = request.json()
        if request.path == "/emails":
            self.call(request, len(body["to"]))
            return 200, self.email(body), {}
        self.call(request, sum(len(email["to"]) for email in body))
        return 200, {"data": [self.email(email) for email in body]}, {}


class StandInResend(StandIn):
    api_class = ResendApi
