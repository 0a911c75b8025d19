from django.contrib.auth import views as auth_views
from django.urls import path

from fupin.core import views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("areas/", views.area_tree, name="area_tree"),
    path("areas/<str:code>/children/", views.area_children, name="area_children"),
    path("areas/<str:code>/flags/", views.village_flags, name="village_flags"),
    path("areas/<str:code>/county-flags/", views.county_flags, name="county_flags"),
    path("audit/", views.audit_log, name="audit_log"),
]
