"""A real backend for the embedded default: one .eml file per message in a folder."""

import uuid
from pathlib import Path

from django.core.mail.backends.base import BaseEmailBackend


class OutboxBackend(BaseEmailBackend):
    def __init__(self, *, directory, **kwargs):
        super().__init__(**kwargs)
        self.directory = Path(directory)

    def send_messages(self, email_messages):
        self.directory.mkdir(parents=True, exist_ok=True)
        for message in email_messages:
            name = f"{message.extra_headers.get('X-Mailroom-Delivery', 'msg')}-{uuid.uuid4().hex}.eml"
            (self.directory / name).write_bytes(message.message().as_bytes())
        return len(email_messages)
