from django.contrib.auth import views as auth_views
from django.urls import include, path

from exchange_console import views

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.home, name="home"),
    path("console/", include("exchange_console.console.urls")),
]
