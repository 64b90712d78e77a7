"""A stand-in for Postmark's HTTP API: /email, /email/batch, /templates,
/email/batchWithTemplates. A recipient whose address holds "inactive" is refused as
Postmark refuses an inactive recipient (ErrorCode 406). As Postmark does, it reports a
bounce or a spam complaint about a message it accepted by posting Postmark's webhook
payload to a webhook URL, with the URL's basic-auth secret."""

import base64
import itertools
import json
import urllib.error
import urllib.request
import uuid

from .base import Api, StandIn, mustache


class PostmarkApi(Api):
    def reset(self):
        super().reset()
        self.templates = getattr(self, "templates", {})
        self.template_ids = itertools.count(1000)
        self.event_ids = itertools.count(4323372036854775000)

    def is_send(self, path):
        return path.startswith("/email")

    def message(self, request, message):
        to = message.get("To", "")
        if "inactive" in to:
            return {
                "ErrorCode": 406,
                "Message": f"You tried to send to recipient(s) that have been marked as inactive. Found inactive addresses: {to}. Inactive recipients are ones that have generated a hard bounce, a spam complaint, or a manual suppression.",
            }
        template_key = message.get("TemplateAlias") or message.get("TemplateId")
        template = self.templates.get(str(template_key)) if template_key else None
        if template_key and template is None:
            return {"ErrorCode": 1101, "Message": "Template not found"}

        message_id = str(uuid.uuid4())

        def render():
            if template is None:
                return message | {"MessageID": message_id}
            model = message.get("TemplateModel", {})
            return dict(message) | {
                "MessageID": message_id,
                "Subject": mustache(template["Subject"], model, escape=False),
                "HtmlBody": mustache(template["HtmlBody"], model, escape=True),
                "TextBody": mustache(template["TextBody"], model, escape=False),
            }

        self.accept(to, render)
        return {
            "To": to,
            "SubmittedAt": "2026-11-25T00:00:00Z",
            "MessageID": message_id,
            "ErrorCode": 0,
            "Message": "OK",
        }

    def api(self, request):
        path, method, body = request.path, request.method, request.json()
        if path == "/email":
            self.call(request, 1)
            return 200, self.message(request, body), {}
        if path == "/email/batch":
            self.call(request, len(body))
            return 200, [self.message(request, message) for message in body], {}
        if path == "/email/batchWithTemplates":
            self.call(request, len(body["Messages"]))
            return 200, [self.message(request, message) for message in body["Messages"]], {}
        if path == "/templates" and method == "POST":
            alias = body.get("Alias") or str(next(self.template_ids))
            if alias in self.templates:
                return 422, {"ErrorCode": 1105, "Message": "This template alias is already in use."}, {}
            self.templates[alias] = body
            return 200, {"TemplateId": next(self.template_ids), "Name": body.get("Name"), "Alias": alias}, {}
        if path.startswith("/templates/") and method == "PUT":
            alias = path.rsplit("/", 1)[1]
            if alias not in self.templates:
                return 422, {"ErrorCode": 1101, "Message": "The Template's 'Alias' was not found."}, {}
            self.templates[alias] = self.templates[alias] | body
            return 200, {"TemplateId": 1, "Alias": alias, "Active": True}, {}
        return 404, {"ErrorCode": 404, "Message": f"no stand-in for {method} {path}"}, {}

    def control(self, path, body):
        if path == "/_control/report":
            return self.report(body["record_type"], body["to"], body["webhook_url"], body["secret"])
        return super().control(path, body)

    def report(self, record_type, to, webhook_url, secret):
        """Post Postmark's webhook for a hard bounce or spam complaint about the last message
        accepted for `to`; answers with the status the webhook URL gave."""
        message = next((m for m in reversed(self.messages) if m.get("To") == to), None)
        if message is None:
            return 404, {"Message": f"no message to {to} was accepted"}
        payload = _bounce_payload(record_type, message, next(self.event_ids))
        request = urllib.request.Request(
            webhook_url,
            data=json.dumps(payload).encode(),
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Authorization": "Basic " + base64.b64encode(secret.encode()).decode(),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return 200, {"status": response.status}
        except urllib.error.HTTPError as error:
            return 200, {"status": error.code}


def _bounce_payload(record_type, message, event_id):
    """Postmark's documented Bounce / SpamComplaint webhook body for `message`."""
    hard = record_type == "Bounce"
    return {
        "RecordType": record_type,
        "ID": event_id,
        "Type": "HardBounce" if hard else "SpamComplaint",
        "TypeCode": 1 if hard else 512,
        "Name": "Hard bounce" if hard else "Spam complaint",
        "Tag": message.get("Tag", ""),
        "MessageID": message["MessageID"],
        "Metadata": message.get("Metadata", {}),
        "ServerID": 23,
        "MessageStream": message.get("MessageStream", "broadcast"),
        "Description": (
            "The server was unable to deliver your message (ex: unknown user, mailbox not found)." if hard else ""
        ),
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist."
        if hard
        else "Test spam complaint details",
        "Email": message["To"],
        "From": message.get("From", ""),
        "BouncedAt": "2026-11-25T01:33:54.9070259Z",
        "DumpAvailable": hard,
        "Inactive": True,
        "CanActivate": hard,
        "Subject": message.get("Subject", ""),
    }


class StandInPostmark(StandIn):
    api_class = PostmarkApi

    def report(self, record_type, to, webhook_url, secret):
        """Have the stand-in post Postmark's webhook ("Bounce": a hard bounce, or
        "SpamComplaint") about the message it accepted for `to`; returns the webhook's status."""
        body = {"record_type": record_type, "to": to, "webhook_url": webhook_url, "secret": secret}
        return self._control("report", body)["status"]
