"""A stand-in for Mailjet's v3.1 send API.

Rendered as Mailjet does with its template language on: each message's Variables fill
{{var:NAME}} / {{var:NAME:"default"}} in the subject and parts, its Headers are layered
over the Globals', and EventPayload carries the metadata. A message to an address
holding "inactive" gets its own error, the others succeed (HTTP 400 when any failed).
"""

import json
import re
import uuid

from .base import Api, StandIn, headers_list

_VAR = re.compile(r'\{\{\s*var:(\w+)(?::"([^"]*)")?\s*\}\}')


def substitute(text, variables):
    return _VAR.sub(lambda match: str(variables.get(match.group(1), match.group(2) or "")), text or "")


class MailjetApi(Api):
    failure = {"ErrorCode": "mj-0000", "ErrorMessage": "Stand-in failure", "StatusCode": 500}

    def is_send(self, path):
        return path == "/v3.1/send"

    def api(self, request):
        if not (request.method == "POST" and self.is_send(request.path)):
            return 404, {"ErrorMessage": f"no stand-in for {request.path}"}, {}
        body = request.json()
        globals_ = body.get("Globals", {})
        self.call(request, sum(len(message["To"]) for message in body["Messages"]))
        results = []
        for message in body["Messages"]:
            merged = globals_ | message
            if any("inactive" in to["Email"] for to in message["To"]):
                error = {"ErrorCode": "send-0008", "ErrorMessage": "recipient blocked", "StatusCode": 403}
                results.append({"Status": "error", "Errors": [error]})
                continue
            variables = globals_.get("Variables", {}) | message.get("Variables", {})
            to_results = []
            for to in message["To"]:

                def render(to=to, variables=variables, message=message, merged=merged):
                    templated = merged.get("TemplateLanguage")
                    fill = (lambda text: substitute(text, variables)) if templated else (lambda text: text or "")
                    headers = globals_.get("Headers", {}) | message.get("Headers", {})
                    return {
                        "To": to["Email"],
                        "Subject": fill(merged.get("Subject")),
                        "HtmlBody": fill(merged.get("HTMLPart")),
                        "TextBody": fill(merged.get("TextPart")),
                        "Headers": headers_list(headers),
                        "Metadata": json.loads(merged.get("EventPayload") or "{}"),
                    }

                self.accept(to["Email"], render)
                message_id = uuid.uuid4().int % 10**16
                to_results.append({"Email": to["Email"], "MessageUUID": str(uuid.uuid4()), "MessageID": message_id})
            results.append({"Status": "success", "To": to_results, "Cc": [], "Bcc": []})
        failed = any(result["Status"] == "error" for result in results)
        return (400 if failed else 200), {"Messages": results}, {}


class StandInMailjet(StandIn):
    api_class = MailjetApi
    path = "v3.1/"
