"""A stand-in for SparkPost's transmissions API.

Rendered as SparkPost does: each recipient's substitution_data over the transmission's,
{{{raw}}} and {{escaped}} (HTML-escaped in the HTML part) in the subject, bodies and
headers; each recipient's metadata over the transmission's. SparkPost answers only
totals: a recipient whose address holds "inactive" is counted as rejected.
"""

import uuid

from .base import Api, StandIn, headers_list, mustache


class SparkPostApi(Api):
    failure = {"errors": [{"message": "Stand-in failure"}]}

    def is_send(self, path):
        return path == "/api/v1/transmissions/"

    def api(self, request):
        if not (request.method == "POST" and self.is_send(request.path)):
            return 404, {"errors": [{"message": f"no stand-in for {request.path}"}]}, {}
        body = request.json()
        content = body["content"]
        self.call(request, len(body["recipients"]))
        rejected = 0
        for recipient in body["recipients"]:
            address = recipient["address"]["email"]
            if "inactive" in address:
                rejected += 1
                continue
            data = body.get("substitution_data", {}) | recipient.get("substitution_data", {})

            def render(address=address, data=data, recipient=recipient):
                headers = content.get("headers", {})
                return {
                    "To": address,
                    "Subject": mustache(content.get("subject"), data, escape=False),
                    "HtmlBody": mustache(content.get("html"), data, escape=True),
                    "TextBody": mustache(content.get("text"), data, escape=False),
                    "Headers": headers_list({name: mustache(value, data, False) for name, value in headers.items()}),
                    "Metadata": body.get("metadata", {}) | recipient.get("metadata", {}),
                }

            self.accept(address, render)
        accepted = len(body["recipients"]) - rejected
        results = {"total_rejected_recipients": rejected, "total_accepted_recipients": accepted, "id": uuid.uuid4().hex}
        return 200, {"results": results}, {}


class StandInSparkPost(StandIn):
    api_class = SparkPostApi
    path = "api/v1/"
