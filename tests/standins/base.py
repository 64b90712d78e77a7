"""What every stand-in ESP API shares: an asyncio HTTP/1.1 server with keep-alive in its
own process on a free loopback port, control endpoints under /_control/, and a record of
what was received.

Each ESP module subclasses Api: `is_send(path)` names its send endpoints and `api()`
answers a request like the real API, recording each recipient's message (rendered as
the ESP would, when recording) in one shape for every ESP, Postmark's:
{"To", "Subject", "HtmlBody", "TextBody", "Headers": [{"Name", "Value"}], "Metadata"}.
Control endpoints let a test read what was received (the messages and the raw request
bodies), make the next send calls fail, or stage an outage (e.g. 503 for 20 s, then 429
with Retry-After) measured from when it is asked for.
"""

import asyncio
import html
import io
import json
import multiprocessing
import re
import time
import urllib.parse
import urllib.request
from math import inf

import multipart


class Request:
    def __init__(self, method, path, headers, raw):
        self.method, self.path, self.headers, self.raw = method, path, headers, raw

    def json(self):
        return json.loads(self.raw) if self.raw else {}

    def parsed(self):
        """The body as the API reads it: JSON, or form fields."""
        if "json" in self.headers.get("content-type", "json"):
            return self.json()
        return self.form()

    def form(self):
        """Form fields as lists of values (urlencoded or multipart/form-data)."""
        content_type = self.headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            _, options = multipart.parse_options_header(content_type)
            # No limits: the body is in memory already, and spooling a part to disk only slows it.
            parser = multipart.MultipartParser(
                io.BytesIO(self.raw),
                options["boundary"],
                len(self.raw),
                part_limit=inf,
                spool_limit=inf,
                memory_limit=inf,
            )
            fields = {}
            for part in parser:  # a file as bytes, a field as text (UTF-8, as the ESPs read it)
                fields.setdefault(part.name, []).append(part.raw if part.filename else part.value)
            return fields
        return urllib.parse.parse_qs(self.raw.decode(), keep_blank_values=True)


class Api:
    """One ESP's API state; subclasses answer its endpoints."""

    failure = {"ErrorCode": 100, "Message": "Stand-in failure"}
    failure_headers = {}

    def __init__(self, record):
        self.record = record
        self.reset()

    def reset(self):
        self.messages = []  # one per recipient, rendered (when recording)
        self.payloads = []  # raw request bodies of send calls (when recording)
        self.count = 0
        self.calls = []  # recipients per send call
        self.recipients = []  # the To of every message accepted, recording or not
        self.fail = []  # queued HTTP statuses for the next calls
        self.outage = []  # (until, status, Retry-After or None), in time order

    def is_send(self, path):
        raise NotImplementedError

    def api(self, request):
        """(HTTP status, JSON payload or None, extra headers) for one API request."""
        raise NotImplementedError

    def accept(self, to, render):
        """Count one recipient's message; `render()` gives it in the common shape."""
        self.count += 1
        self.recipients.append(to)
        if self.record:
            self.messages.append(render())

    def call(self, request, recipients):
        self.calls.append(recipients)
        if self.record:
            self.payloads.append(request.parsed())

    def outage_now(self):
        now = time.monotonic()
        self.outage = [phase for phase in self.outage if phase[0] > now]
        return self.outage[0] if self.outage else None

    def handle(self, request):
        if request.path.startswith("/_control/"):
            return *self.control(request.path, request.json()), {}
        if self.is_send(request.path) and (self.fail or self.outage_now()):
            if self.fail:
                status, retry_after = self.fail.pop(0), None
            else:
                _, status, retry_after = self.outage_now()
            headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
            return status, self.failure, headers | self.failure_headers
        return self.api(request)

    def control(self, path, body):
        if path == "/_control/recipients":
            return 200, {"recipients": self.recipients}
        if path == "/_control/messages":
            return 200, {"count": self.count, "messages": self.messages, "calls": self.calls}
        if path == "/_control/payloads":
            return 200, {"payloads": self.payloads}
        if path == "/_control/fail":
            self.fail.extend(body["statuses"])
            return 200, {}
        if path == "/_control/outage":
            until = time.monotonic()
            for phase in body["phases"]:
                until += phase["seconds"]
                self.outage.append((until, phase["status"], phase.get("retry_after")))
            return 200, {}
        if path == "/_control/reset":
            self.reset()
            return 200, {}
        return 404, {}


_MUSTACHE = re.compile(r"\{\{\{\s*([\w.]+)\s*\}\}\}|\{\{\s*([\w.]+)\s*\}\}")


def mustache(template, model, escape):
    """Mustache/Handlebars variables: {{{raw}}}, and {{escaped}} (escaped when `escape`)."""

    def fill(match):
        raw_name, escaped_name = match.groups()
        value = str(model.get(raw_name or escaped_name, ""))
        return value if raw_name or not escape else html.escape(value)

    return _MUSTACHE.sub(fill, template or "")


def headers_list(headers):
    return [{"Name": name, "Value": value} for name, value in headers.items()]


async def _serve_client(api, latency, reader, writer):
    try:
        while True:
            request_line = await reader.readline()
            if not request_line:
                break
            method, target, _ = request_line.decode().split(" ", 2)
            headers = {}
            while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode().partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", 0))
            raw = await reader.readexactly(length) if length else b""
            request = Request(method, urllib.parse.unquote(target.split("?", 1)[0]), headers, raw)
            if latency and api.is_send(request.path):
                await asyncio.sleep(latency)
            status, payload, extra = api.handle(request)
            data = b"" if payload is None else json.dumps(payload).encode()
            extra = "".join(f"{name}: {value}\r\n" for name, value in extra.items())
            writer.write(
                f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n{extra}\r\n".encode()
                + data
            )
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


def _run(api_class, record, latency, ready):
    async def main():
        api = api_class(record)
        server = await asyncio.start_server(lambda r, w: _serve_client(api, latency, r, w), "127.0.0.1", 0)
        ready.send(server.sockets[0].getsockname()[1])
        async with server:
            await server.serve_forever()

    asyncio.run(main())


class StandIn:
    """Start with `StandInX(record=True).start()`; `.api_url` is for anymail's backend.
    `latency`: seconds each send call takes, as a real ESP's round trip does."""

    api_class = Api
    path = ""  # appended to the server's URL to make the backend's api_url

    def __init__(self, record=True, latency=0):
        self.record = record
        self.latency = latency
        self.process = None

    def start(self):
        parent, child = multiprocessing.Pipe()
        self.process = multiprocessing.get_context("spawn").Process(
            target=_run, args=(self.api_class, self.record, self.latency, child), daemon=True
        )
        self.process.start()
        self.port = parent.recv()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.api_url = self.url + self.path
        return self

    def stop(self):
        self.process.terminate()
        self.process.join()

    def _control(self, name, body=None):
        request = urllib.request.Request(
            f"{self.url}_control/{name}",
            data=json.dumps(body or {}).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def messages(self):
        """Each recipient's message as the ESP would send it (recording only)."""
        return self._control("messages")["messages"]

    def payloads(self):
        """The body of every send call as the API parsed it (recording only)."""
        return self._control("payloads")["payloads"]

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
