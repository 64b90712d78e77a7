"""`render_email PAGE_ID --to EMAIL`: print the exact message the promotional mailer would
send to that address (the contact's data if known, sample data otherwise)."""

import sys

from django.core.management.base import BaseCommand, CommandError

from campaigns.proofs import message_bytes
from cms.models import EmailPage


class Command(BaseCommand):
    help = "Write the RFC 5322 bytes of an email page as sent to one address to stdout."

    def add_arguments(self, parser):
        parser.add_argument("page_id", type=int)
        parser.add_argument("--to", required=True, help="Recipient address")

    def handle(self, *args, page_id, to, **options):
        page = EmailPage.objects.filter(pk=page_id).first()
        if page is None:
            raise CommandError(f"No email page with id {page_id}.")
        stdout = getattr(self.stdout, "_out", sys.stdout)
        stdout.buffer.write(message_bytes(page, to))
        stdout.flush()
