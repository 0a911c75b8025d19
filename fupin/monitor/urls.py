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
]
