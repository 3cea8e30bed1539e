from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "exchange_console.accounts"
    label = "accounts"
