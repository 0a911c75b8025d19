from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MonitorConfig(AppConfig):
    """Monitoring (动态管理): return-to-poverty warnings (返贫预警), 应助未助 data exchanges
    with education and health, the 351 settlement calculator."""

    name = "fupin.monitor"
    label = "monitor"
    verbose_name = _("Monitoring")
