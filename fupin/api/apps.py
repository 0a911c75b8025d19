from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "fupin.api"
    label = "api"
