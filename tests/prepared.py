"""What the test's database session holds prepared (config.prepared)."""

from django.db import connection


def prepared_statements(containing):
    """How many statements this session holds prepared whose text contains `containing`."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE strpos(statement, %s) > 0", [containing])
        return cursor.fetchone()[0]
