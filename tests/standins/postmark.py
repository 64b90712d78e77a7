"""A stand-in for Postmark's HTTP API on loopback, for tests and benchmarks.

Only an ESP's API is outside this machine, so this is the one part we stand in for:
anymail's real Postmark backend talks HTTP to it. It runs in its own process (asyncio,
HTTP/1.1 keep-alive) and answers like Postmark: /email, /email/batch, /templates,
/email/batchWithTemplates. Control endpoints under /_control/ let a test read what it
received (rendered, when recording), make the next send calls fail, or stage an outage
(e.g. 503 for 20 s, then 429 with Retry-After) measured from when it is asked for.
As Postmark does, it reports a bounce or a spam complaint about a message it accepted by
posting Postmark's webhook payload to a webhook URL, with the URL's basic-auth secret.
"""

import asyncio
import base64
import html
import itertools
import json
import multiprocessing
import re
import time
import urllib.error
import urllib.request
import uuid

_MUSTACHE = re.compile(r"\{\{\{\s*(\w+)\s*\}\}\}|\{\{\s*(\w+)\s*\}\}")


def render(template, model, escape):
    def fill(match):
        raw_name, escaped_name = match.groups()
        value = str(model.get(raw_name or escaped_name, ""))
        return value if raw_name or not escape else html.escape(value)

    return _MUSTACHE.sub(fill, template or "")


class _State:
    def __init__(self, record):
        self.record = record
        self.messages = []
        self.count = 0
        self.calls = []  # recipients per send call
        self.recipients = []  # the To of every message accepted, recording or not
        self.templates = {}
        self.fail = []  # queued HTTP statuses for the next calls
        self.outage = []  # (until, status, Retry-After or None), in time order
        self.template_ids = itertools.count(1000)
        self.event_ids = itertools.count(4323372036854775000)

    def accept(self, message):
        self.count += 1
        to = message.get("To", "")
        if "inactive" in to:
            return {
                "ErrorCode": 406,
                "Message": f"You tried to send to recipient(s) that have been marked as inactive. Found inactive addresses: {to}. Inactive recipients are ones that have generated a hard bounce, a spam complaint, or a manual suppression.",
            }
        self.recipients.append(to)
        message_id = str(uuid.uuid4())
        if self.record:
            self.messages.append(message | {"MessageID": message_id})
        return {
            "To": to,
            "SubmittedAt": "2026-11-25T00:00:00Z",
            "MessageID": message_id,
            "ErrorCode": 0,
            "Message": "OK",
        }

    def from_template(self, message):
        template = self.templates.get(str(message.get("TemplateAlias") or message.get("TemplateId")))
        if template is None:
            return {"ErrorCode": 1101, "Message": "Template not found"}
        if not self.record:  # benchmarks: accept without rendering
            return self.accept(message)
        model = message.get("TemplateModel", {})
        rendered = dict(message)
        rendered["Subject"] = render(template["Subject"], model, escape=False)
        rendered["HtmlBody"] = render(template["HtmlBody"], model, escape=True)
        rendered["TextBody"] = render(template["TextBody"], model, escape=False)
        return self.accept(rendered)

    def outage_now(self):
        now = time.monotonic()
        self.outage = [phase for phase in self.outage if phase[0] > now]
        return self.outage[0] if self.outage else None

    def handle(self, method, path, body):
        """(HTTP status, JSON payload, extra headers) for one request."""
        if path.startswith("/_control/"):
            return *self.control(method, path, body), {}
        if path.startswith("/email") and (self.fail or self.outage_now()):
            if self.fail:
                status, retry_after = self.fail.pop(0), None
            else:
                _, status, retry_after = self.outage_now()
            headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
            return status, {"ErrorCode": 100, "Message": "Stand-in failure"}, headers
        return *self.api(method, path, body), {}

    def api(self, method, path, body):
        if path == "/email":
            self.calls.append(1)
            return 200, self.accept(body)
        if path == "/email/batch":
            self.calls.append(len(body))
            return 200, [self.accept(message) for message in body]
        if path == "/email/batchWithTemplates":
            self.calls.append(len(body["Messages"]))
            return 200, [self.from_template(message) for message in body["Messages"]]
        if path == "/templates" and method == "POST":
            alias = body.get("Alias") or str(next(self.template_ids))
            if alias in self.templates:
                return 422, {"ErrorCode": 1105, "Message": "This template alias is already in use."}
            self.templates[alias] = body
            return 200, {
                "TemplateId": next(self.template_ids),
                "Name": body.get("Name"),
                "Alias": alias,
                "Active": True,
            }
        if path.startswith("/templates/") and method == "PUT":
            alias = path.rsplit("/", 1)[1]
            if alias not in self.templates:
                return 422, {"ErrorCode": 1101, "Message": "The Template's 'Alias' was not found."}
            self.templates[alias] = self.templates[alias] | body
            return 200, {"TemplateId": 1, "Alias": alias, "Active": True}
        return 404, {"ErrorCode": 404, "Message": f"no stand-in for {method} {path}"}

    def control(self, method, path, body):
        if path == "/_control/recipients":
            return 200, {"recipients": self.recipients}
        if path == "/_control/messages":
            return 200, {"count": self.count, "messages": self.messages, "calls": self.calls}
        if path == "/_control/fail":
            self.fail.extend(body["statuses"])
            return 200, {}
        if path == "/_control/outage":
            until = time.monotonic()
            for phase in body["phases"]:
                until += phase["seconds"]
                self.outage.append((until, phase["status"], phase.get("retry_after")))
            return 200, {}
        if path == "/_control/report":
            return self.report(body["record_type"], body["to"], body["webhook_url"], body["secret"])
        if path == "/_control/reset":
            self.messages, self.count, self.calls, self.recipients = [], 0, [], []
            self.fail, self.outage = [], []
            return 200, {}
        return 404, {}

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


async def _serve_client(state, latency, reader, writer):
    try:
        while True:
            request_line = await reader.readline()
            if not request_line:
                break
            method, path, _ = request_line.decode().split(" ", 2)
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode().partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            raw = await reader.readexactly(length) if length else b""
            if latency and path.startswith("/email"):
                await asyncio.sleep(latency)
            status, payload, headers = state.handle(method, path.split("?", 1)[0], json.loads(raw) if raw else {})
            data = json.dumps(payload).encode()
            extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
            writer.write(
                f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n{extra}\r\n".encode()
                + data
            )
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


def _run(record, latency, ready):
    async def main():
        state = _State(record)
        server = await asyncio.start_server(lambda r, w: _serve_client(state, latency, r, w), "127.0.0.1", 0)
        ready.send(server.sockets[0].getsockname()[1])
        async with server:
            await server.serve_forever()

    asyncio.run(main())


class StandInPostmark:
    """Start with `StandInPostmark(record=True).start()`; `.api_url` is for anymail.
    `latency`: seconds each send call takes, as a real ESP's round trip does."""

    def __init__(self, record=True, latency=0):
        self.record = record
        self.latency = latency
        self.process = None

    def start(self):
        parent, child = multiprocessing.Pipe()
        self.process = multiprocessing.get_context("spawn").Process(
            target=_run, args=(self.record, self.latency, child), daemon=True
        )
        self.process.start()
        self.port = parent.recv()
        self.api_url = f"http://127.0.0.1:{self.port}/"
        return self

    def stop(self):
        self.process.terminate()
        self.process.join()

    def _control(self, name, body=None):
        request = urllib.request.Request(
            f"{self.api_url}_control/{name}",
            data=json.dumps(body or {}).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def messages(self):
        return self._control("messages")["messages"]

    def count(self):
        return self._control("messages")["count"]

    def recipients(self):
        """The To of every message accepted, in order (kept even when not recording)."""
        return self._control("recipients")["recipients"]

    def calls(self):
        """How many recipients each send call carried, in order."""
        return self._control("messages")["calls"]

    def fail_next(self, *statuses):
        self._control("fail", {"statuses": list(statuses)})

    def outage(self, *phases):
        """Answer every send call with each phase's status, one phase after the other, from
        now: phases are dicts of status, seconds and optionally retry_after."""
        self._control("outage", {"phases": list(phases)})

    def reset(self):
        self._control("reset")

    def report(self, record_type, to, webhook_url, secret):
        """Have the stand-in post Postmark's webhook ("Bounce": a hard bounce, or
        "SpamComplaint") about the message it accepted for `to`; returns the webhook's status."""
        body = {"record_type": record_type, "to": to, "webhook_url": webhook_url, "secret": secret}
        return self._control("report", body)["status"]
