from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "fupin.api"
    label = "api"

    def ready(self) -> None:
        # Registers the OpenAPI extensions before any schema is generated.
        from fupin.api import schema  # noqa: F401
