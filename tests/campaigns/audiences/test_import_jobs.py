"""An import job run by a worker: what the admin's screen reads when the run fails."""

import pytest
from django.core.files.base import ContentFile
from django.db import connection

from campaigns.audiences import import_jobs, importing
from campaigns.audiences.merging import Merger
from campaigns.models import ImportJob


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_job_whose_database_connection_ends_mid_import_is_marked_failed_with_the_reason(postgres, monkeypatch):
    monkeypatch.setattr(importing, "CHUNK", 4)
    rows = "".join(f"c{n}@example.com\n" for n in range(40))
    job = ImportJob.objects.create(original_name="forty.csv", audience_name="Customers", mapping={"0": "email"})
    job.file.save("forty.csv", ContentFile(f"email\n{rows}"))
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.QUEUED)
    connection.ensure_connection()
    callers, merge = connection.connection, Merger.merge

    def merge_ending_the_callers_connection(self, cursor, size):
        if cursor.connection is callers:  # the server ends the worker's own connection
            cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        return merge(self, cursor, size)

    monkeypatch.setattr(Merger, "merge", merge_ending_the_callers_connection)
    import_jobs.run(job.pk)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED and job.finished_at is not None
    assert "terminating connection due to administrator command" in job.error  # the server's own reason
