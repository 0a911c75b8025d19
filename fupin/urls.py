from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/", include("fupin.api.urls")),
    path("", include("fupin.core.urls")),
    path("households/", include("fupin.registry.urls")),
    path("identify/", include("fupin.identify.urls")),
    path("support/", include("fupin.support.urls")),
    path("exit/", include("fupin.exit.urls")),
    path("monitor/", include("fupin.monitor.urls")),
    path("users/", include("fupin.core.user_urls")),
    path("jobs/", include("fupin.core.job_urls")),
]
