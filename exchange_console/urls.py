from django.contrib.auth import views as auth_views
from django.urls import include, path

from exchange_console import views
from exchange_console.accounts import admin_views
from exchange_console.accounts.views import SignInView
from exchange_console.certificates import views as certificate_views

urlpatterns = [
    path("login/", SignInView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.home, name="home"),
    path("console/", include("exchange_console.console.urls")),
    path("toolbox/", include("exchange_console.toolbox.urls")),
    path("administrators/", admin_views.administrators, name="administrators"),
    path("administrators/new/", admin_views.new_administrator, name="new-administrator"),
    path("administrators/<int:pk>/", admin_views.administrator, name="administrator"),
    path("audit-log/", admin_views.audit_log, name="audit-log"),
    path("audit-log/<int:pk>/configuration/", admin_views.audit_snapshot, name="audit-snapshot"),
    path("servers/<str:server>/certificates/", certificate_views.certificates, name="certificates"),
    path("servers/<str:server>/certificates/<int:pk>/enable/", certificate_views.enable, name="enable-certificate"),
]
