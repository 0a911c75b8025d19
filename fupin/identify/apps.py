from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IdentifyConfig(AppConfig):
    name = "fupin.identify"
    label = "identify"
    verbose_name = _("Identification")

    def ready(self) -> None:
        # Registers the scoring job with fupin.core.jobs.
        from fupin.identify import scoring  # noqa: F401
