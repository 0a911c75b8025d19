from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ExitConfig(AppConfig):
    """Exit (精准脱贫): exit standards, the exit procedure with 双认定, consolidation and
    closing (销号), village and county exit."""

    name = "fupin.exit"
    label = "exit"
    verbose_name = _("Exit")
