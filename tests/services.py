"""Real services for tests and benchmarks: SMTP servers, Celery worker and beat processes,
a Redis server of their own, and `make run`'s embedded default (web, worker and beat on
SQLite) in a throwaway folder.

Plain classes (no pytest), so `make bench` and scripts/screenshots.py use the same parts
as the tests.
"""

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from django.db import connections

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Inbox:
    """What the SMTP server received: a list of (envelope sender, recipients, bytes)."""

    def __init__(self, keep_content=True):
        self.messages = []
        self.keep_content = keep_content  # False: bytes are dropped (big campaigns)
        self.lock = threading.Lock()
        # address -> replies to give its next RCPT TO commands, e.g. ["451 4.3.0 Try later"]
        self.rcpt_replies = {}
        self.on_message = None  # called (in the server's thread) after each message
        self.holding = set()  # addresses whose RCPT TO gets no answer until removed from here
        self.held = threading.Event()  # set once a client waits on a held address
        self.data_delay = 0  # seconds each DATA takes to answer: a slow server

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        while address in self.holding:
            self.held.set()
            await asyncio.sleep(0.05)
        with self.lock:
            replies = self.rcpt_replies.get(address)
            reply = replies.pop(0) if replies else None
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        content = envelope.original_content if self.keep_content else None
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), content))
        if self.on_message:
            await asyncio.to_thread(self._call_on_message)  # off the event loop: it may use the ORM
        return "250 OK"

    def _call_on_message(self):
        try:
            self.on_message()
        finally:
            connections.close_all()  # this thread's connection would block dropping the test DB

    def clear(self):
        with self.lock:
            self.messages.clear()
            self.rcpt_replies.clear()
            self.on_message = None

    def recipients(self):
        return [rcpts[0] for _, rcpts, _ in list(self.messages)]

    def wait_for(self, count, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.messages) < count:
            time.sleep(0.05)
        return list(self.messages)


def forget_queued_tasks(url):
    """Empty the queues and Celery's unacknowledged tasks in Redis at `url`: a killed worker
    leaves some that Redis would hand out again an hour later, to whatever runs then."""
    import redis

    redis.Redis.from_url(url).delete("promotional", "account", "unacked", "unacked_index")


class SmtpServer:
    """aiosmtpd on loopback in this process, recording into an Inbox. stop() then start()
    again on the same port: it refuses connections in between, as a server that is down."""

    def __init__(self, inbox=None, port=None):
        self.inbox = inbox or Inbox()
        self.port = port or free_port()
        self.controller = None

    def start(self):
        from aiosmtpd.controller import Controller

        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self):
        if self.controller:
            self.controller.stop()
            self.controller = None


def smtp_mailer_env(port):
    backend = "django.core.mail.backends.smtp.EmailBackend"
    options = json.dumps({"host": "127.0.0.1", "port": port, "timeout": 10})
    return {
        "MAILROOM_PROMOTIONAL_BACKEND": backend,
        "MAILROOM_PROMOTIONAL_OPTIONS": options,
        "MAILROOM_ACCOUNT_BACKEND": backend,
        "MAILROOM_ACCOUNT_OPTIONS": options,
    }


class CeleryProcess:
    """A real `celery` process in its own session, so kill() takes its children down too."""

    READY = b""  # what its log says once it is up

    def __init__(self, env, arguments, log_path, wait=True):
        self.log_path = log_path
        self.log = open(log_path, "wb")  # noqa: SIM115 (open while the process runs; closed by stop())
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", *arguments, "-l", "INFO"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout=90):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.READY in Path(self.log_path).read_bytes():
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"{type(self).__name__} did not start:\n{self.output()}")

    def output(self):
        return Path(self.log_path).read_text(errors="replace")

    def kill(self):
        """A crash: SIGKILL to the process and its children, no chance to finish or ack."""
        with contextlib.suppress(ProcessLookupError):  # already gone, children and all
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


class Worker(CeleryProcess):
    """A `celery worker` process on `queues`."""

    READY = b" ready."

    def __init__(self, env, queues, log_path, concurrency=2, wait=True):
        arguments = [
            "worker",
            "-P",
            "prefork",
            "-c",
            str(concurrency),
            "-Q",
            queues,
            "-n",
            f"{queues}-{log_path.stem}@%h",
        ]
        arguments += ["--without-heartbeat", "--without-gossip", "--without-mingle"]
        super().__init__(env, arguments, log_path, wait)


class Beat(CeleryProcess):
    """A `celery beat` process; a restarted beat given the same schedule file goes on from it."""

    READY = b"beat: Starting"

    def __init__(self, env, log_path, schedule, wait=True):
        super().__init__(env, ["beat", "--schedule", str(schedule)], log_path, wait)


class RedisServer:
    """A redis-server of its own on a free loopback port, keeping nothing on disk: kill()
    loses every queued task, as a crashed Redis without persistence does."""

    def __init__(self, folder):
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self, timeout=20):
        arguments = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        self.process = subprocess.Popen(
            [*arguments, "--dir", str(self.folder)], stdout=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as client:
                    client.sendall(b"PING\r\n")
                    if client.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def kill(self):
        self.process.kill()
        self.process.wait()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.kill()


class _CountingHandler:
    def __init__(self, counter):
        self.counter = counter

    async def handle_DATA(self, server, session, envelope):
        with self.counter.get_lock():
            self.counter.value += len(envelope.rcpt_tos)
        return "250 OK"


def _run_sink(port, counter, ready):
    from aiosmtpd.controller import Controller

    controller = Controller(_CountingHandler(counter), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    threading.Event().wait()


class SmtpSink:
    """aiosmtpd in its own process, counting what it receives: the benchmarks' SMTP server."""

    def start(self):
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self.port = free_port()
        self.counter = context.Value("q", 0)
        ready = context.Event()
        self.process = context.Process(target=_run_sink, args=(self.port, self.counter, ready), daemon=True)
        self.process.start()
        ready.wait(30)
        return self

    def count(self):
        return self.counter.value

    def stop(self):
        self.process.terminate()
        self.process.join()


class EmbeddedMailroom:
    """`make run` in a throwaway folder: migrate, seed the demo, then web, worker and beat
    from Procfile.dev under honcho, on SQLite, the filesystem broker and the outbox.

    Nothing is shared with a developer's var/ or with PostgreSQL and Redis: DATABASE_URL
    and REDIS_URL are dropped, and the web server gets a free port (never 8000).
    """

    def __init__(self, var_dir, password="journey-only", **extra_env):
        self.var_dir = Path(var_dir)
        self.password = password
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")} | {
            "DJANGO_SETTINGS_MODULE": "config.settings.dev",
            "MAILROOM_VAR_DIR": str(self.var_dir),
            "MAILROOM_PORT": str(self.port),
            "MAILROOM_BASE_URL": self.url,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONUNBUFFERED": "1",
            **extra_env,
        }
        self.process = None

    def manage(self, *args):
        """Run `manage.py ARGS` against this installation; returns its stdout."""
        command = [sys.executable, str(ROOT / "manage.py"), *args]
        return subprocess.run(command, cwd=ROOT, env=self.env, check=True, capture_output=True, text=True).stdout

    def start(self, timeout=90):
        """Migrate, then start web, worker and beat while the demo is seeded (admin /
        self.password): the processes boot meanwhile, as they need no data to start."""
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self.manage("migrate", "--noinput", "-v0")
        self.log_path = self.var_dir / "honcho.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115 (open while the processes run; closed by stop())
        self.process = subprocess.Popen(
            [str(Path(sys.executable).parent / "honcho"), "-f", str(ROOT / "Procfile.dev"), "-d", str(ROOT), "start"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self.manage("seed_demo", "--password", self.password)
            self._wait_until_up(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_up(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"the embedded default did not start:\n{self.output()[-4000:]}")

    def output(self):
        """Everything web, worker and beat printed."""
        return self.log_path.read_text(errors="replace")

    def outbox(self):
        return sorted((self.var_dir / "outbox").glob("*.eml"))

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self.process:
            self.log.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
