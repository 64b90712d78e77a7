"""A stand-in for SendGrid's v3 mail/send API.

Rendered as SendGrid does: each personalization's substitutions replace their keys as
plain text in the subject, contents and headers; its headers and custom_args are layered
over the message's. SendGrid answers 202 with no body; refusals come as webhook events.
"""

from .base import Api, StandIn, headers_list


def substitute(text, substitutions):
    for key, value in substitutions.items():
        text = text.replace(key, value)
    return text


class SendGridApi(Api):
    failure = {"errors": [{"message": "Stand-in failure"}]}

    def is_send(self, path):
        return path == "/v3/mail/send"

    def api(self, request):
        if not (request.method == "POST" and self.is_send(request.path)):
            return 404, {"errors": [{"message": f"no stand-in for {request.path}"}]}, {}
        body = request.json()
        contents = {content["type"]: content["value"] for content in body.get("content", [])}
        self.call(request, sum(len(p["to"]) for p in body["personalizations"]))
        for personalization in body["personalizations"]:
            subs = personalization.get("substitutions", {})
            for to in personalization["to"]:

                def render(to=to, personalization=personalization, subs=subs):
                    headers = body.get("headers", {}) | personalization.get("headers", {})
                    return {
                        "To": to["email"],
                        "Subject": substitute(personalization.get("subject", body.get("subject", "")), subs),
                        "HtmlBody": substitute(contents.get("text/html", ""), subs),
                        "TextBody": substitute(contents.get("text/plain", ""), subs),
                        "Headers": headers_list({name: substitute(value, subs) for name, value in headers.items()}),
                        "Metadata": body.get("custom_args", {}) | personalization.get("custom_args", {}),
                    }

                self.accept(to["email"], render)
        return 202, None, {}


class StandInSendGrid(StandIn):
    api_class = SendGridApi
    path = "v3/"
