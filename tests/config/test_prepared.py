"""config.prepared: hot statements prepared once per connection, errors as Django's."""

import pytest
from django.db import IntegrityError, connection

from config import prepared
from tests.prepared import prepared_statements

STATEMENT = "SELECT %s::int + 1 AS answer"


def test_a_statement_is_prepared_once_and_run_with_each_call_s_values(postgres):
    assert prepared.execute(STATEMENT, [1]).rows == [(2,)]
    assert prepared.execute(STATEMENT, [41]).rows == [(42,)]
    assert prepared_statements("SELECT $1::int + 1") == 1


def test_a_statement_that_returns_no_rows_gives_its_row_count(postgres):
    from suppression.models import Suppression

    result = prepared.execute(f"DELETE FROM {Suppression._meta.db_table} WHERE address_hash = %s", ["none"])
    assert result == prepared.Result(rows=[], rowcount=0)


def test_database_errors_come_as_django_s(postgres):
    from suppression.models import Suppression

    table = Suppression._meta.db_table
    with pytest.raises(IntegrityError):
        prepared.execute(f"INSERT INTO {table} (address_hash) VALUES (NULL)", [])


def test_statements_are_queries_django_counts(postgres, django_assert_num_queries):
    with django_assert_num_queries(1):
        prepared.execute(STATEMENT, [1])


def test_switched_off_nothing_is_prepared(postgres):
    raw = connection.connection
    threshold, raw.prepare_threshold = raw.prepare_threshold, None  # MAILROOM_PREPARED_STATEMENTS=0
    try:
        assert prepared.execute("SELECT %s::int * 3", [2]).rows == [(6,)]
    finally:
        raw.prepare_threshold = threshold
    assert prepared_statements("SELECT $1::int * 3") == 0
