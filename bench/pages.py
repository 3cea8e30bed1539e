"""What the page benchmarks share: a throw-away test database, a signed-in client, and timing of pages through
Django's full request handling (middleware, session, templates) with the SQL queries of each request."""
import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402


def measure(client, path, headers, runs):
    timings = []
    client.get(path, **headers)  # warm the template cache
    for _ in range(runs):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(path, **headers)
            timings.append(time.perf_counter() - started)
        assert response.status_code == 200, (path, response.status_code)
    return statistics.median(timings), max(timings), len(queries), len(response.content)


def run(description, populate, pages):
    """Parse --runs, build the data in a test database, print one line per page, drop the database."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0)
    try:
        populate()
        client = Client()
        # Signed in without a password: django-axes refuses an authenticate() that comes with no request.
        client.force_login(get_user_model().objects.create_superuser("bench", "bench@contoso.com", "bench"))
        print(f"database: {connection.vendor}; {runs} requests per page")
        print(f"{'page':<52} {'median ms':>10} {'max ms':>8} {'queries':>8} {'KB':>6}")
        for title, target in pages.items():
            path, headers = target if isinstance(target, tuple) else (target, {})
            median, slowest, queries, size = measure(client, path, headers, runs)
            print(f"{title:<52} {median * 1000:>10.1f} {slowest * 1000:>8.1f} {queries:>8} {size / 1024:>6.0f}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
