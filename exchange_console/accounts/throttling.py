"""Sign-in throttling: django-axes' database handler, made to count and refuse in one step.

Axes checks the failures before a password is evaluated and records the failure after it, so parallel guesses
all pass the check before any of them is recorded. Here an attempt is counted as a failure before its password
is evaluated, while attempts for the same user name from the same address wait their turn: at most
AXES_FAILURE_LIMIT passwords are evaluated per user name and address in a cool-off period, however many arrive
at once. A right password clears the count (AXES_RESET_ON_SUCCESS).
"""
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.db import connection, transaction
from django.db.models import F


class SignInAttempts(AxesDatabaseHandler):
    def is_allowed(self, request, credentials=None):
        """Refuse a locked-out attempt; count any other as a failure now, before its password is evaluated."""
        username = get_client_username(request, credentials)
        with transaction.atomic():
            _take_turn(username, request.axes_ip_address)
            self.clean_expired_user_attempts(request, credentials)
            if not super().is_allowed(request, credentials):
                return False
            _count_failure(request, username)
        request.sign_in_counted = True
        return True

    def user_login_failed(self, sender, credentials, request=None, **kwargs):
        if not getattr(request, "sign_in_counted", False):  # counted already unless refused before evaluation
            super().user_login_failed(sender, credentials, request, **kwargs)


def _take_turn(username, address):
    """Hold the (user name, address) lock until the transaction ends. On SQLite every transaction of the
    project begins IMMEDIATE (settings.py), which already admits one writer at a time."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"sign-in\n{username}\n{address}"])


def _count_failure(request, username):
    attempt, created = AccessAttempt.objects.get_or_create(
        username=username, ip_address=request.axes_ip_address, user_agent=request.axes_user_agent,
        defaults={"failures_since_start": 1, "attempt_time": request.axes_attempt_time,
                  "http_accept": request.axes_http_accept, "path_info": request.axes_path_info})
    if not created:
        AccessAttempt.objects.filter(pk=attempt.pk).update(
            failures_since_start=F("failures_since_start") + 1, attempt_time=request.axes_attempt_time)
