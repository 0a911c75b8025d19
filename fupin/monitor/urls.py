from __future__ import annotations

from typing import Any

from django.urls import path

from fupin.monitor import views

app_name = "monitor"

urlpatterns: list[Any] = [
    path("", views.index, name="index"),
    # --- the education aid exchange and its 应助未助 list ---
    path("education/", views.exchange_list, name="exchange_list"),
    path("education/<int:pk>/", views.exchange_detail, name="exchange_detail"),
    path("education/<int:pk>/export/", views.exchange_export, name="exchange_export"),
    path(
        "education/<int:pk>/file.<str:fmt>",
        views.exchange_download,
        name="exchange_download",
    ),
    path("education/<int:pk>/answer/", views.exchange_import, name="exchange_import"),
    path("education/<int:pk>/unaided/", views.unaided, name="unaided"),
    path("education/<int:pk>/unaided.xlsx", views.unaided_export, name="unaided_export"),
    # --- health ---
    path("health/insurance/", views.health_insurance, name="health_insurance"),
    path("health/insurance.xlsx", views.health_insurance_export, name="health_insurance_export"),
    path("health/351/", views.calculator, name="calculator"),
    # --- return-to-poverty warnings (返贫预警) ---
    path("warnings/", views.warning_list, name="warning_list"),
    path("warnings/run/", views.warning_run_start, name="warning_run_start"),
    path("warnings/runs/", views.run_list, name="run_list"),
    path("warnings/overdue/", views.overdue_areas, name="overdue_areas"),
    path("warnings/<int:pk>/", views.warning_detail, name="warning_detail"),
    path("warnings/<int:pk>/respond/", views.warning_respond, name="warning_respond"),
    path("warnings/<int:pk>/dismiss/", views.warning_dismiss, name="warning_dismiss"),
    path("warnings/<int:pk>/monitor/", views.warning_monitor, name="warning_monitor"),
    path("warnings/<int:pk>/return/", views.warning_return, name="warning_return"),
    path("events/", views.event_list, name="event_list"),
    path("events/import/", views.event_import, name="event_import"),
    path("events/template.csv", views.event_template, name="event_template"),
    path("cases/", views.case_list, name="case_list"),
    path("cases/<int:pk>/end/", views.case_end, name="case_end"),
    path("returns/", views.return_list, name="return_list"),
    path("returns/<int:pk>/", views.return_detail, name="return_detail"),
    path("returns/<int:pk>/step/", views.return_step, name="return_step"),
    path("returns/<int:pk>/withdraw/", views.return_withdraw, name="return_withdraw"),
    path("households/<int:pk>/warnings/", views.household_warnings, name="household_warnings"),
    path("households/<int:pk>/event/", views.event_new, name="event_new"),
    path("households/<int:pk>/monitor/", views.case_start, name="case_start"),
    path("households/<int:pk>/return/", views.return_open, name="return_open"),
]
