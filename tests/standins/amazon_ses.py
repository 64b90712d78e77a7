"""A stand-in for Amazon SES v2 (the REST-JSON API boto3's "sesv2" client speaks):
email templates, SendBulkEmail and SendEmail.

Rendered as SES does: each entry's ReplacementTemplateData over the DefaultContent's
TemplateData fills the stored template's {{{raw}}} and {{escaped}} variables; each
entry's ReplacementHeaders are its headers, X-Metadata among them. An entry to an address
holding "inactive" gets its own MESSAGE_REJECTED status, as SES reports per entry.
"""

import base64
import email
import email.policy
import json
import uuid

from .base import Api, StandIn, headers_list, mustache


def error(status, code, message):
    return status, {"__type": code, "message": message}, {"x-amzn-ErrorType": code}


class AmazonSesApi(Api):
    failure = {"__type": "ServiceUnavailable", "message": "Stand-in failure"}

    def reset(self):
        super().reset()
        self.templates = getattr(self, "templates", {})

    def is_send(self, path):
        return path.startswith("/v2/email/outbound-")

    def api(self, request):
        path, method = request.path, request.method
        if path == "/v2/email/templates" and method == "POST":
            body = request.json()
            if body["TemplateName"] in self.templates:
                return error(400, "AlreadyExistsException", "Template already exists")
            self.templates[body["TemplateName"]] = body["TemplateContent"]
            return 200, {}, {}
        if path.startswith("/v2/email/templates/") and method == "PUT":
            name = path.rsplit("/", 1)[1]
            if name not in self.templates:
                return error(404, "NotFoundException", f"Template {name} does not exist")
            self.templates[name] = request.json()["TemplateContent"]
            return 200, {}, {}
        if path == "/v2/email/outbound-bulk-emails" and method == "POST":
            return self.bulk(request)
        if path == "/v2/email/outbound-emails" and method == "POST":
            return self.raw(request)
        return error(404, "NotFoundException", f"no stand-in for {method} {path}")

    def bulk(self, request):
        body = request.json()
        default = body["DefaultContent"]["Template"]
        template = self.templates.get(default["TemplateName"])
        if template is None:
            return error(404, "NotFoundException", "Template does not exist")
        self.call(request, len(body["BulkEmailEntries"]))
        results = []
        for entry in body["BulkEmailEntries"]:
            [to] = entry["Destination"]["ToAddresses"]
            if "inactive" in to:
                results.append({"Status": "MESSAGE_REJECTED", "Error": "Address is on the suppression list"})
                continue
            replacement = entry.get("ReplacementEmailContent", {}).get("ReplacementTemplate", {})
            data = json.loads(default.get("TemplateData") or "{}")
            data |= json.loads(replacement.get("ReplacementTemplateData") or "{}")

            def render(to=to, data=data, entry=entry):
                headers = {header["Name"]: header["Value"] for header in entry.get("ReplacementHeaders", [])}
                return {
                    "To": to,
                    "Subject": mustache(template["Subject"], data, escape=False),
                    "HtmlBody": mustache(template["Html"], data, escape=True),
                    "TextBody": mustache(template["Text"], data, escape=False),
                    "Headers": headers_list(headers),
                    "Metadata": json.loads(headers.get("X-Metadata", "{}")),
                }

            self.accept(to, render)
            results.append({"Status": "SUCCESS", "MessageId": str(uuid.uuid4())})
        return 200, {"BulkEmailEntryResults": results}, {}

    def raw(self, request):
        body = request.json()
        data = base64.b64decode(body["Content"]["Raw"]["Data"])
        message = email.message_from_bytes(data, policy=email.policy.default)
        recipients = body.get("Destination", {}).get("ToAddresses") or [message["To"]]
        self.call(request, len(recipients))
        for to in recipients:

            def render(to=to):
                html, text = message.get_body(("html",)), message.get_body(("plain",))
                return {
                    "To": to,
                    "Subject": str(message["Subject"]),
                    "HtmlBody": html.get_content() if html else "",
                    "TextBody": text.get_content() if text else "",
                    "Headers": headers_list({name: str(value) for name, value in message.items()}),
                    "Metadata": json.loads(message.get("X-Metadata", "{}")),
                }

            self.accept(to, render)
        return 200, {"MessageId": str(uuid.uuid4())}, {}


class StandInAmazonSes(StandIn):
    api_class = AmazonSesApi
