"""Rendering once: how long freezing the demo offer email takes (layout, premailer, text)
against rendering the layout alone, and how big the result is against Gmail's clip.

Works in a throwaway test database so the real one is never touched.
"""

import io
import statistics
import time

import django

from bench.report import emit

ROUNDS = 20


def timed(function, rounds=ROUNDS):
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        result = function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000, result


def run():
    django.setup()
    from django.core.management import call_command
    from django.db import connection

    old_name = connection.settings_dict["NAME"]
    connection.settings_dict.setdefault("TEST", {})["NAME"] = f"{old_name}_bench_render"
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        from cms.checklist import GMAIL_CLIP_BYTES
        from cms.models import EmailPage
        from cms.rendering import freeze, render_email_html, sender_settings

        call_command("seed_demo", password="bench-only-password", stdout=io.StringIO())
        page = EmailPage.objects.get(slug="winter-offers")
        sender = sender_settings(page)
        freeze(page)  # warm caches (renditions, templates)
        layout_ms, _ = timed(lambda: render_email_html(EmailPage.objects.get(pk=page.pk), sender))
        freeze_ms, frozen = timed(lambda: freeze(EmailPage.objects.get(pk=page.pk)))
        emit("freeze_demo_email", freeze_ms, "ms", layout_ms, baseline_is="layout render without inlining")
        emit(
            "demo_email_html_size",
            len(frozen.html.encode()) / 1024,
            "KB",
            GMAIL_CLIP_BYTES / 1024,
            baseline_is="Gmail clip",
            text_kb=round(len(frozen.text.encode()) / 1024, 1),
        )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
