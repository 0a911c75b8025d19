"""The REST API: one router for every app's viewsets, token login, the OpenAPI schema."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from fupin.api.auth import ObtainTokenView
from fupin.api.views import not_found
from fupin.registry import api as registry_api


class Router(DefaultRouter):
    include_format_suffixes = False  # JSON only: no ".json" twins of every URL


router = Router()
router.register("households", registry_api.HouseholdViewSet, basename="api-household")
HOUSEHOLD = r"households/(?P<household_id>\d+)"
router.register(f"{HOUSEHOLD}/members", registry_api.MemberViewSet, basename="api-member")
router.register(f"{HOUSEHOLD}/income", registry_api.IncomeViewSet, basename="api-income")
router.register(
    f"{HOUSEHOLD}/transitions", registry_api.TransitionViewSet, basename="api-transition"
)
router.register(f"{HOUSEHOLD}/history", registry_api.HistoryViewSet, basename="api-history")
router.register("areas", registry_api.AreaViewSet, basename="api-area")

urlpatterns = [
    path("auth/token/", ObtainTokenView.as_view(), name="api-token"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    *router.urls,
    # Under /api/ even a wrong URL answers JSON, not the site's HTML page.
    re_path(r"^[\s\S]*/$", not_found),
]
