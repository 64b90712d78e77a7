"""The health check answers 200 only when the database answers."""

import pytest


@pytest.mark.django_db
def test_health_answers_ok_with_the_database_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok\n"
