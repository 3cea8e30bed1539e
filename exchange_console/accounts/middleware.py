"""Every request of a signed-in administrator runs as that caller, so the write path authorizes and audits it."""
from django.core.exceptions import PermissionDenied

from exchange_console.accounts.rbac import can_view
from exchange_console.accounts.views import client_address
from exchange_console.services import acting_as

OPEN_PATHS = ("/login/", "/logout/", "/static/")


class ActingAdministratorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.user.is_authenticated:
            return self.get_response(request)
        if not request.path.startswith(OPEN_PATHS) and not can_view(request.user):
            raise PermissionDenied("Your account isn't a member of any management role group.")
        with acting_as(request.user, client_address(request)):
            return self.get_response(request)
