"""Hot statements run as prepared statements on PostgreSQL.

Django's PostgreSQL cursors bind parameters on the client: every execution sends the whole
statement with its values inlined, and the server parses and plans it afresh. A few
statements of fixed text run thousands of times a campaign: the claim per batch, the
outcome write per chunk, the one-click unsubscribe per request. Prepared once per
connection, each execution sends only its values (a chunk's outcome write: 2.05–2.18 →
1.85–1.87 ms).

After five runs PostgreSQL may keep one generic plan for every value. Prepare only a
statement whose best plan does not hang on its values: the suppression probe does not
qualify (a generic plan for 1,000 hashes took 75 ms, planned for them 5 ms), and a status
a partial index depends on is written into the text, not passed as a value.

Prepared statements live in the database session: behind a pooler in transaction mode
(PgBouncer before 1.21, or without max_prepared_statements) set
MAILROOM_PREPARED_STATEMENTS=0, and the settings leave the driver preparing nothing
(prepare_threshold None: prepare=True is then ignored). On SQLite the statement runs as any other.
"""

from contextlib import nullcontext
from dataclasses import dataclass

import psycopg
from django.db import connection


@dataclass(frozen=True, slots=True)
class Result:
    rows: list  # empty for a statement that returns none
    rowcount: int


def execute(sql, params):
    """Run `sql` (%s or %(name)s placeholders) with `params` on Django's connection, prepared
    on PostgreSQL; database errors come as Django's (OperationalError, IntegrityError...).
    Parameters whose type the server cannot infer need a cast in `sql` (%s::bigint)."""
    with connection.cursor() as wrapper:
        if connection.vendor == "postgresql":
            # Still in connection.queries and the django.db.backends log when they are kept.
            logged = wrapper.debug_sql(sql, params) if connection.queries_logged else nullcontext()
            with logged, connection.wrap_database_errors, psycopg.Cursor(wrapper.cursor.connection) as cursor:
                cursor.execute(sql, params, prepare=True)
                return Result(cursor.fetchall() if cursor.description else [], cursor.rowcount)
        wrapper.execute(sql, params)
        return Result(wrapper.fetchall() if wrapper.description else [], wrapper.rowcount)
