"""The contact import: every file shape admins bring, every count, and never resubscribing anyone."""

import csv
import io
import json
import threading
import time
from pathlib import Path

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from email_validator import EmailNotValidError, validate_email
from openpyxl import Workbook

from campaigns.audiences import importing
from campaigns.audiences.importing import import_file
from campaigns.audiences.merging import Merger
from campaigns.audiences.tables import auto_mapping
from campaigns.models import Audience, Contact
from suppression import policy
from suppression.addresses import check_address
from suppression.models import Channel, ConsentEvent, Source, Stream, Suppression

pytestmark = pytest.mark.django_db
COUNTS = ("rows", "created", "updated", "unchanged", "invalid", "duplicates", "suppressed")


def run_import(tmp_path, capsys, content, *args, name="contacts.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
    call_command("import_contacts", str(path), "--audience", "Customers", *args)
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(summary) == {*COUNTS, "seconds", "error_report"}
    return summary


def counts(summary):
    return {key: summary[key] for key in COUNTS}


def expect(**given):
    return {key: given.get(key, 0) for key in COUNTS}


def members():
    return sorted(Audience.objects.get(name="Customers").contacts.values_list("email", "first_name", "last_name"))


def report_rows(summary):
    with open(summary["error_report"], encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def test_counts_every_outcome_and_reports_rejected_rows(tmp_path, capsys):
    policy.record_opt_out("grace@example.com", Channel.EMAIL_MARKETING, Source.PHONE)
    summary = run_import(
        tmp_path,
        capsys,
        "email,first_name,last_name\n"
        "ada@example.com,Ada,Lovelace\n"
        "not-an-address,Bad,Row\n"
        "ADA@example.com,Ada,Again\n"
        "grace@example.com,Grace,Hopper\n"
        "=cmd@example,=HYPERLINK(),x\n",
    )
    assert counts(summary) == expect(rows=5, created=2, invalid=2, duplicates=1, suppressed=1)
    assert members() == [("ada@example.com", "Ada", "Lovelace"), ("grace@example.com", "Grace", "Hopper")]
    report = report_rows(summary)
    assert report[0] == ["line", "reason"]
    assert [row[0] for row in report[1:]] == ["3", "4", "6"]
    assert "@" in report[1][1] and report[2][1].startswith("duplicate")
    # The report holds line numbers and reasons only: no cell of any row.
    assert not [cell for row in report for cell in row if "Bad" in cell or "HYPERLINK" in cell or "cmd" in cell]


def test_reimport_changes_nothing_and_never_clears_an_opt_out(tmp_path, capsys):
    content = "email,first_name\nada@example.com,Ada\n"
    run_import(tmp_path, capsys, content)
    policy.record_opt_out("ada@example.com", Channel.EMAIL_MARKETING, Source.LINK)
    events = ConsentEvent.objects.count()
    summary = run_import(tmp_path, capsys, content, "--update-existing")
    assert counts(summary) == expect(rows=1, unchanged=1, suppressed=1)
    assert summary["error_report"] is None
    assert Suppression.objects.filter(channel=Channel.EMAIL_MARKETING).count() == 1
    assert ConsentEvent.objects.count() == events
    assert Contact.objects.count() == 1


def test_existing_contacts_are_updated_only_when_asked(tmp_path, capsys):
    run_import(tmp_path, capsys, "email,first_name,last_name,company\nada@example.com,Ada,Lovelace,Analytical\n")
    changed = "email,first_name,last_name\nada@example.com,Augusta,\nbob@example.com,Bob,B\n"
    left_alone = run_import(tmp_path, capsys, changed)
    assert counts(left_alone) == expect(rows=2, created=1, unchanged=1)
    assert Contact.objects.get(email="ada@example.com").first_name == "Ada"
    updated = run_import(tmp_path, capsys, changed, "--update-existing")
    assert counts(updated) == expect(rows=2, updated=1, unchanged=1)
    ada = Contact.objects.get(email="ada@example.com")
    # A blank cell never wipes what we hold; an unmapped column is not touched.
    assert (ada.first_name, ada.last_name, ada.company) == ("Augusta", "Lovelace", "Analytical")


def test_dry_run_counts_exactly_and_writes_nothing(tmp_path, capsys):
    Contact.objects.create(email="ada@example.com", first_name="Ada")
    summary = run_import(
        tmp_path, capsys, "Email Address,First Name\nada@example.com,Ada\nnew@example.com,New\nbad\n", "--dry-run"
    )
    assert counts(summary) == expect(rows=3, created=1, unchanged=1, invalid=1)
    assert not Audience.objects.exists()
    assert list(Contact.objects.values_list("email", flat=True)) == ["ada@example.com"]


def test_utf8_bom_and_semicolons(tmp_path, capsys):
    content = "\ufeffE-mail;FNAME;LNAME\nada@example.com;Ada;Lovelace\nlinus@example.com;Linus;Torvalds\n"
    summary = run_import(tmp_path, capsys, content)
    assert counts(summary) == expect(rows=2, created=2)
    assert members() == [("ada@example.com", "Ada", "Lovelace"), ("linus@example.com", "Linus", "Torvalds")]


def test_the_rejected_rows_report_keeps_the_files_delimiter(tmp_path, capsys):
    summary = run_import(tmp_path, capsys, "email;first_name;note\nnope;Bad;a,b\nada@example.com;Ada;x\n")
    raw = Path(summary["error_report"]).read_text(encoding="utf-8-sig")
    assert raw.splitlines()[0] == "line;reason"  # opens in the same spreadsheet as the file
    line, reason = next(csv.reader(io.StringIO(raw.splitlines()[1]), delimiter=";"))
    assert line == "2" and "@" in reason and "Bad" not in raw  # no cell of the row is copied


def test_windows_1252_names(tmp_path, capsys):
    content = "Email;First Name;Last Name\nzoe@example.com;Zoë;Müller\nfrancois@example.com;François;Dœuf\n"
    summary = run_import(tmp_path, capsys, content, encoding="cp1252")
    assert counts(summary) == expect(rows=2, created=2)
    assert members() == [("francois@example.com", "François", "Dœuf"), ("zoe@example.com", "Zoë", "Müller")]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le"])
def test_utf16_with_and_without_bom(tmp_path, capsys, encoding):
    content = "email\tfirst_name\nzoe@example.com\tZoë\nbjorn@example.com\tBjörn\n"
    summary = run_import(tmp_path, capsys, content, encoding=encoding)
    assert counts(summary) == expect(rows=2, created=2)
    assert members() == [("bjorn@example.com", "Björn", ""), ("zoe@example.com", "Zoë", "")]


def test_quoted_newlines_and_blank_lines(tmp_path, capsys):
    content = (
        "email,first_name,postal_address\n"
        "\n"
        'ada@example.com,Ada,"12 Analytical Way\nLondon"\n'
        "\n\n"
        'bad-address,"Multi\nLine",x\n'
        "grace@example.com,Grace,\n"
    )
    summary = run_import(tmp_path, capsys, content)
    assert counts(summary) == expect(rows=3, created=2, invalid=1)
    assert Contact.objects.get(email="ada@example.com").postal_address == "12 Analytical Way\nLondon"
    assert [row[0] for row in report_rows(summary)[1:]] == ["7"]


def test_missing_email_column_is_a_clear_error_before_anything_is_written(tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_text("name,phone\nAda,123\n")
    with pytest.raises(CommandError, match="no 'email' column"):
        call_command("import_contacts", str(path), "--audience", "Customers")
    assert not Audience.objects.exists() and not Contact.objects.exists()


def test_invalid_addresses_are_rejected_with_reasons(tmp_path, capsys):
    content = (
        "email\nplain\nno-domain@\n@no-local.com\ntwo@@example.com\nspace in@example.com\nok@example.com\nx@localhost\n"
    )
    summary = run_import(tmp_path, capsys, content)
    assert counts(summary) == expect(rows=7, created=1, invalid=6)
    assert all(reason for _line, reason in report_rows(summary)[1:])


def test_same_address_in_three_letter_cases_is_one_contact(tmp_path, capsys):
    content = "email,first_name\nAda@Example.com,First\nada@example.com,Second\nADA@EXAMPLE.COM,Third\n"
    summary = run_import(tmp_path, capsys, content)
    assert counts(summary) == expect(rows=3, created=1, duplicates=2)
    assert list(Contact.objects.values_list("email", "first_name")) == [("Ada@example.com", "First")]
    assert Contact.objects.get().email_hash == policy.address_hash("ada@example.com")


def test_header_only_file(tmp_path, capsys):
    summary = run_import(tmp_path, capsys, "email,first_name\n")
    assert counts(summary) == expect()
    assert summary["error_report"] is None
    assert Audience.objects.get(name="Customers").contacts.count() == 0


def test_xlsx_file(tmp_path, capsys):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Email Address", "First Name", "Last Name", "Customer ID", "Country"])
    sheet.append(["ada@example.com", "Ada", "Lovelace", 1001, "GB"])
    sheet.append([None, None, None, None, None])
    sheet.append(["broken", "B", "R", 1002, "DE"])
    sheet.append(["ADA@example.com", "Ada", "Dup", 1003, "GB"])
    path = tmp_path / "contacts.xlsx"
    workbook.save(path)
    call_command("import_contacts", str(path), "--audience", "Customers")
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert counts(summary) == expect(rows=3, created=1, invalid=1, duplicates=1)
    ada = Contact.objects.get()
    assert (ada.email, ada.first_name, ada.external_id, ada.country) == ("ada@example.com", "Ada", "1001", "GB")
    assert [row[0] for row in report_rows(summary)[1:]] == ["4", "5"]


def test_suppressed_addresses_join_but_stay_suppressed(tmp_path, capsys):
    policy.record_opt_out("opted@example.com", Channel.EMAIL_MARKETING, Source.LINK)
    policy.record_opt_out("bounced@example.com", Channel.UNDELIVERABLE, Source.BOUNCE)
    policy.record_opt_out("postal@example.com", Channel.POSTAL_MARKETING, Source.PHONE)  # not an email block
    before = set(Suppression.objects.values_list("address_hash", "channel"))
    content = "email\nOPTED@example.com\nbounced@example.com\npostal@example.com\nfresh@example.com\n"
    summary = run_import(tmp_path, capsys, content, "--update-existing")
    assert counts(summary) == expect(rows=4, created=4, suppressed=2)
    assert set(Suppression.objects.values_list("address_hash", "channel")) == before
    assert policy.blocked(["opted@example.com", "bounced@example.com", "fresh@example.com"], Stream.PROMOTIONAL) == {
        "opted@example.com": Channel.EMAIL_MARKETING,
        "bounced@example.com": Channel.UNDELIVERABLE,
    }
    assert Audience.objects.get(name="Customers").contacts.count() == 4


def test_tags_attributes_and_consent_are_mapped_explicitly(tmp_path):
    path = tmp_path / "shop.csv"
    path.write_text(
        "Email,Tags,Last Order,Consent Date,Notes\nada@example.com,vip; course,2025-03-01,2024-01-31,secret\n"
    )
    mapping = {0: "email", 1: "tags", 2: "attribute:last_order", 3: "consent_date"}
    summary = import_file(path, mapping=mapping, audience_name="Shop")
    assert (summary.rows, summary.created, summary.invalid) == (1, 1, 0)
    ada = Contact.objects.get()
    assert ada.tags == ["vip", "course"] and ada.attributes == {"last_order": "2025-03-01"}
    assert ada.consent_date.date().isoformat() == "2024-01-31"
    assert "secret" not in json.dumps([ada.tags, ada.attributes, ada.postal_address])  # unmapped: not kept
    again = import_file(path, mapping=mapping, audience_name="Shop", update_existing=True)
    assert (again.updated, again.unchanged) == (0, 1)


def test_suppression_list_import_records_source_import_and_file_name(tmp_path):
    Contact.objects.create(email="old@example.com")
    path = tmp_path / "previous-provider-unsubscribes.csv"
    path.write_text("Email Address\nold@example.com\nOLD@example.com\nother@example.com\nnope\n")
    summary = import_file(path, kind="suppressions", channel=Channel.EMAIL_MARKETING)
    assert (
        summary.rows,
        summary.created,
        summary.unchanged,
        summary.duplicates,
        summary.invalid,
        summary.suppressed,
    ) == (4, 2, 0, 1, 1, 2)
    rows = Suppression.objects.order_by("address")
    assert [(s.address, s.source, s.note) for s in rows] == [
        ("old@example.com", Source.IMPORT, "Imported from previous-provider-unsubscribes.csv"),
        ("other@example.com", Source.IMPORT, "Imported from previous-provider-unsubscribes.csv"),
    ]
    assert ConsentEvent.objects.filter(source=Source.IMPORT, action="opt_out").count() == 2
    again = import_file(path, kind="suppressions", channel=Channel.EMAIL_MARKETING)
    assert (again.created, again.unchanged) == (0, 2)


def chunked_import(tmp_path, monkeypatch, **options):
    """Import 20 rows in chunks of 4 (an existing contact renamed, an opt-out, a duplicate
    and a bad row in later chunks); returns (summary, the server processes that merged)."""
    monkeypatch.setattr(importing, "CHUNK", 4)
    Contact.objects.create(email="c3@example.com", first_name="Old")
    policy.record_opt_out("c17@example.com", Channel.EMAIL_MARKETING, Source.LINK)
    rows = [f"c{n}@example.com,New{n}" for n in range(20)]
    rows[9:9] = ["C2@EXAMPLE.COM,Again", "broken,Bad"]
    path = tmp_path / "chunks.csv"
    path.write_text("email,first_name\n" + "\n".join(rows) + "\n")
    servers = []
    merge = Merger.merge

    def merge_and_note_server(self, cursor, size):
        servers.append(cursor.connection.info.backend_pid)
        return merge(self, cursor, size)

    monkeypatch.setattr(Merger, "merge", merge_and_note_server)
    summary = import_file(path, audience_name="Customers", update_existing=True, **options)
    assert (summary.rows, summary.created, summary.updated, summary.unchanged) == (22, 19, 1, 0)
    assert (summary.duplicates, summary.invalid, summary.suppressed) == (1, 1, 1)
    emails = Audience.objects.get(name="Customers").contacts.values_list("email", "first_name")
    assert sorted(emails) == sorted((f"c{n}@example.com", f"New{n}") for n in range(20))
    return summary, servers


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_outside_a_transaction_chunks_merge_on_two_connections_with_the_same_outcomes(postgres, tmp_path, monkeypatch):
    assert not connection.in_atomic_block
    _, servers = chunked_import(tmp_path, monkeypatch)
    assert len(servers) == 5 and len(set(servers)) == 2
    assert connection.connection.info.backend_pid in servers


def test_inside_a_transaction_every_chunk_merges_on_its_connection(postgres, tmp_path, monkeypatch):
    # Another connection could not see the transaction's rows, nor be rolled back with it.
    assert connection.in_atomic_block
    _, servers = chunked_import(tmp_path, monkeypatch)
    assert set(servers) == {connection.connection.info.backend_pid}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_progress_never_runs_ahead_of_the_rows_merged(postgres, tmp_path, monkeypatch):
    monkeypatch.setattr(importing, "CHUNK", 4)
    path = tmp_path / "forty.csv"
    path.write_text("email,first_name\n" + "".join(f"c{n}@example.com,N{n}\n" for n in range(40)))
    merge = Merger.merge

    def slow_merge(self, cursor, size):
        time.sleep(0.05)  # reading the file runs ahead of the merging
        return merge(self, cursor, size)

    monkeypatch.setattr(Merger, "merge", slow_merge)
    told = []

    def progress(done, total):
        told.append((done, total, Contact.objects.count()))

    import_file(path, audience_name="Customers", progress=progress)
    assert [done for done, *_ in told] == [*range(4, 41, 4), 40]
    assert all(done <= in_the_database for done, _, in_the_database in told)
    assert told[-1] == (40, 40, 40)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("dropped", ["the caller's", "the second"])
def test_a_merge_connection_dropped_mid_import_fails_it_cleanly_and_a_rerun_completes_it(
    postgres, tmp_path, monkeypatch, dropped
):
    monkeypatch.setattr(importing, "CHUNK", 4)
    path = tmp_path / "forty.csv"
    path.write_text("email,first_name\n" + "".join(f"c{n}@example.com,N{n}\n" for n in range(40)))
    merge, on_it = Merger.merge, []
    connection.ensure_connection()
    callers = connection.connection  # (merges run in helper threads, where `connection` is another)

    def merge_dropping_a_connection(self, cursor, size):
        if (cursor.connection is callers) == (dropped == "the caller's"):
            on_it.append(size)
            if len(on_it) == 2:  # its server process ends mid-import
                cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        return merge(self, cursor, size)

    monkeypatch.setattr(Merger, "merge", merge_dropping_a_connection)
    # The server's own reason comes out, not a later "connection is closed" from cleaning up.
    with pytest.raises(psycopg.errors.AdminShutdown):
        import_file(path, audience_name="Customers")
    assert not [thread for thread in threading.enumerate() if thread.name.startswith("import-merge")]
    connection.close()  # as a task's end does with a connection that failed
    merged = Audience.objects.get(name="Customers").contacts.count()
    assert 0 < merged < 40
    monkeypatch.setattr(Merger, "merge", merge)
    again = import_file(path, audience_name="Customers")
    assert (again.created, again.unchanged) == (40 - merged, merged)
    assert Audience.objects.get(name="Customers").contacts.count() == 40


def test_common_headers_are_matched_automatically():
    headers = ["Email Address", "FNAME", "LNAME", "Company", "Country", "Phone", "E-mail"]
    assert auto_mapping(headers) == {0: "email", 1: "first_name", 2: "last_name", 3: "company", 4: "country"}


@pytest.mark.parametrize(
    "address",
    [
        "ada@example.com",
        "a.b-c+tag@sub.example.co.uk",
        "x@localhost",
        "x@example.test",
        "x@xn--nxasmq6b.com",
        "x@ab--cd.com",
        "a..b@example.com",
        ".a@example.com",
        "a@-example.com",
        "a@example.c0m",
        "a" * 65 + "@example.com",
        "Zoë@example.com",
        "user@bücher.de",
        "a@example",
        "a@123.com",
        "o'brien@example.ie",
        "a@exa_mple.com",
        f"a@{'b' * 63}.{'c' * 63}.{'d' * 63}.{'e' * 57}.com",
    ],
)
def test_fast_address_check_agrees_with_email_validator(address):
    try:
        validate_email(address, check_deliverability=False)
        expected = True
    except EmailNotValidError:
        expected = False
    try:
        check_address(address)
        accepted = True
    except ValueError:
        accepted = False
    assert accepted == expected
