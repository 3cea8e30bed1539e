"""Signing in: Django's LoginView (which already refuses redirects to other hosts) plus throttling."""
from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.utils import timezone

from exchange_console.accounts.models import FailedSignIn


def client_address(request):
    return request.META.get("REMOTE_ADDR") or "0.0.0.0"


class ThrottledAuthenticationForm(AuthenticationForm):
    """Refuses further attempts once a user name or an address has failed too often recently."""
    error_messages = {**AuthenticationForm.error_messages,
                      "invalid_login": "Your user name or password is incorrect."}

    def clean(self):
        username = (self.data.get("username") or "").strip().lower()
        address = client_address(self.request)
        if too_many_failures(username, address):
            raise forms.ValidationError(
                f"Too many failed sign-in attempts. Try again in {settings.LOGIN_FAILURE_WINDOW_MINUTES} minutes.",
                code="throttled")
        try:
            return super().clean()
        except forms.ValidationError:
            FailedSignIn.objects.create(username=username, address=address)
            raise


def too_many_failures(username, address):
    since = timezone.now() - timedelta(minutes=settings.LOGIN_FAILURE_WINDOW_MINUTES)
    recent = FailedSignIn.objects.filter(when__gte=since)
    FailedSignIn.objects.filter(when__lt=since).delete()
    limit = settings.LOGIN_FAILURE_LIMIT
    return (recent.filter(username=username).count() >= limit
            or recent.filter(address=address).count() >= limit * 4)


class SignInView(auth_views.LoginView):
    form_class = ThrottledAuthenticationForm
    redirect_authenticated_user = True
