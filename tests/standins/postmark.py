"""A stand-in for Postmark's HTTP API: /email, /email/batch, /templates,
/email/batchWithTemplates. A recipient whose address holds "inactive" is refused as
Postmark refuses an inactive recipient (ErrorCode 406)."""

import itertools
import uuid

from .base import Api, StandIn, mustache


class PostmarkApi(Api):
    def reset(self):
        super().reset()
        self.templates = getattr(self, "templates", {})
        self.template_ids = itertools.count(1000)

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

        def render():
            if template is None:
                return message
            model = message.get("TemplateModel", {})
            return dict(message) | {
                "Subject": mustache(template["Subject"], model, escape=False),
                "HtmlBody": mustache(template["HtmlBody"], model, escape=True),
                "TextBody": mustache(template["TextBody"], model, escape=False),
            }

        self.accept(to, render)
        return {
            "To": to,
            "SubmittedAt": "2026-11-25T00:00:00Z",
            "MessageID": str(uuid.uuid4()),
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


class StandInPostmark(StandIn):
    api_class = PostmarkApi
