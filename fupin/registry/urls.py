from django.urls import path

from fupin.registry import views

app_name = "registry"
urlpatterns = [
    path("", views.household_list, name="household_list"),
    path("export.csv", views.household_export, name="household_export"),
    path("new/", views.household_create, name="household_create"),
    path("new/member-row/", views.member_row, name="member_row"),
    path("quality/", views.quality_report, name="quality_report"),
    path("quality/recheck/", views.quality_recheck, name="quality_recheck"),
    path("<int:pk>/", views.household_detail, name="household_detail"),
    path("<int:pk>/edit/", views.household_edit, name="household_edit"),
    path("<int:pk>/members/new/", views.member_edit, name="member_create"),
    path("<int:pk>/members/<int:member_pk>/edit/", views.member_edit, name="member_edit"),
    path("<int:pk>/members/<int:member_pk>/leave/", views.member_leave, name="member_leave"),
    path("<int:pk>/income/", views.income_edit, name="income_edit"),
    path("<int:pk>/status/", views.household_transition, name="household_transition"),
    path(
        "<int:pk>/attachments/<int:attachment_pk>/",
        views.attachment_download,
        name="attachment_download",
    ),
    path("import/", views.household_import, name="household_import"),
    path("import/template.xlsx", views.import_template, name="import_template"),
    path("import/<str:token>/errors.xlsx", views.import_error_report, name="import_error_report"),
]
