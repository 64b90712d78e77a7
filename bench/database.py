"""A fresh PostgreSQL database for the benchmarks, and fast bulk seeding with COPY."""

import os

import psycopg
from django.db import connection

from suppression.addresses import address_hash

# Its own name per checkout lets two benchmark runs share one server.
BENCH_DATABASE = os.environ.get("MAILROOM_BENCH_DATABASE", "mailroom_bench")


def recreate(server, name):
    """Drop and create database `name` on `server` (a URL without the database); returns its URL."""
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


def prepare():
    """Point DATABASE_URL at a new, empty bench database; then set Django up and migrate."""
    import django
    from django.core.management import call_command

    server = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
    os.environ["DATABASE_URL"] = recreate(server, BENCH_DATABASE)
    django.setup()
    call_command("migrate", verbosity=0)


def seed_audience(name, count):
    """`count` contacts in a new audience, COPYed in; returns the audience."""
    from campaigns.models import Audience, Contact, Membership

    audience = Audience.objects.create(name=name)
    domain = f"{name}.bench.example"
    columns = (
        "email, email_hash, first_name, last_name, external_id, company, country, language, "
        "postal_address, tags, attributes, consent_basis, consent_source, created_at, updated_at"
    )
    with connection.cursor() as cursor:
        with cursor.copy(f"COPY {Contact._meta.db_table} ({columns}) FROM STDIN") as copy:
            for n in range(count):
                email = f"p{n}@{domain}"
                copy.write_row(
                    (email, address_hash(email), f"P{n}", "Bench", "", "", "", "", "", "[]", "{}", "", "", "now", "now")
                )
        cursor.execute(
            f"INSERT INTO {Membership._meta.db_table} (audience_id, contact_id, added_at) "
            f"SELECT %s, id, now() FROM {Contact._meta.db_table} WHERE email LIKE %s",
            [audience.pk, f"%@{domain}"],
        )
    return audience
