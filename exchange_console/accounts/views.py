"""Signing in: Django's LoginView (which already refuses redirects to other hosts); django-axes refuses
attempts once a user name has failed too often from one address (throttling.py, settings.py)."""
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import render


def client_address(request):
    """The address the request came from; no proxy header is trusted."""
    return request.META.get("REMOTE_ADDR") or "0.0.0.0"


class SignInForm(AuthenticationForm):
    error_messages = {**AuthenticationForm.error_messages,
                      "invalid_login": "Your user name or password is incorrect."}


class SignInView(auth_views.LoginView):
    form_class = SignInForm
    redirect_authenticated_user = True


def locked_out(request, response, credentials):
    """Axes' answer to a refused attempt: the sign-in page again, saying why and for how long."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    form = SignInForm(request, initial={"username": (credentials or {}).get("username", "")})
    return render(request, "registration/login.html", {
        "form": form, "next": request.POST.get("next", ""),
        "refusal": f"Too many failed sign-in attempts for this user name from your address. "
                   f"Try again in {minutes} minutes."}, status=429)
