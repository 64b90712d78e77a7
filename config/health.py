"""A health check for load balancers and deploys: the app answers and the database does."""

from django.db import connection
from django.http import HttpResponse


def health(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok\n", content_type="text/plain")
