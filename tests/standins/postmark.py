"""A stand-in for Postmark's HTTP API on loopback, for tests and benchmarks.

Only an ESP's API is outside this machine, so this is the one part we stand in for:
anymail's real Postmark backend talks HTTP to it. It runs in its own process (asyncio,
HTTP/1.1 keep-alive) and answers like Postmark: /email, /email/batch, /templates,
/email/batchWithTemplates. Control endpoints under /_control/ let a test read what it
received (rendered, when recording) and make the next send calls fail.
"""

import asyncio
import html
import itertools
import json
import multiprocessing
import re
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
        self.templates = {}
        self.fail = []  # queued HTTP statuses for the next calls
        self.template_ids = itertools.count(1000)

    def accept(self, message):
        self.count += 1
        to = message.get("To", "")
        if "inactive" in to:
            return {
                "ErrorCode": 406,
                "Message": f"You tried to send to recipient(s) that have been marked as inactive. Found inactive addresses: {to}. Inactive recipients are ones that have generated a hard bounce, a spam complaint, or a manual suppression.",
            }
        if self.record:
            self.messages.append(message)
        return {
            "To": to,
            "SubmittedAt": "2026-11-25T00:00:00Z",
            "MessageID": str(uuid.uuid4()),
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

    def handle(self, method, path, body):
        if path.startswith("/_control/"):
            return self.control(method, path, body)
        if self.fail and path.startswith("/email"):
            return self.fail.pop(0), {"ErrorCode": 100, "Message": "Stand-in failure"}
        if path == "/email":
            return 200, self.accept(body)
        if path == "/email/batch":
            return 200, [self.accept(message) for message in body]
        if path == "/email/batchWithTemplates":
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
        if path == "/_control/messages":
            return 200, {"count": self.count, "messages": self.messages}
        if path == "/_control/fail":
            self.fail.extend(body["statuses"])
            return 200, {}
        if path == "/_control/reset":
            self.messages, self.count, self.fail = [], 0, []
            return 200, {}
        return 404, {}


async def _serve_client(state, reader, writer):
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
            status, payload = state.handle(method, path.split("?", 1)[0], json.loads(raw) if raw else {})
            data = json.dumps(payload).encode()
            writer.write(
                f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode()
                + data
            )
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


def _run(record, ready):
    async def main():
        state = _State(record)
        server = await asyncio.start_server(lambda r, w: _serve_client(state, r, w), "127.0.0.1", 0)
        ready.send(server.sockets[0].getsockname()[1])
        async with server:
            await server.serve_forever()

    asyncio.run(main())


class StandInPostmark:
    """Start with `StandInPostmark(record=True).start()`; `.api_url` is for anymail."""

    def __init__(self, record=True):
        self.record = record
        self.process = None

    def start(self):
        parent, child = multiprocessing.Pipe()
        self.process = multiprocessing.get_context("spawn").Process(target=_run, args=(self.record, child), daemon=True)
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

    def fail_next(self, *statuses):
        self._control("fail", {"statuses": list(statuses)})

    def reset(self):
        self._control("reset")
