"""User management pages, mounted at /users/ (see `fupin.core.user_views`)."""

from django.urls import path

from fupin.core import user_views

app_name = "users"

urlpatterns = [
    path("", user_views.user_list, name="list"),
    path("new/", user_views.user_create, name="create"),
    path("me/password/", user_views.own_password_change, name="me_password"),
    path("<int:pk>/", user_views.user_edit, name="edit"),
    path("<int:pk>/password/", user_views.user_password, name="password"),
]
