from __future__ import annotations

from typing import Any

from django.urls import path

from fupin.exit import area_views, views

app_name = "exit"

urlpatterns: list[Any] = [
    # --- a household: exit check and consolidation ---
    path("households/<int:pk>/", views.household_exit, name="household"),
    # --- household exit rounds and their procedure ---
    path("", views.round_list, name="round_list"),
    path("new/", views.round_create, name="round_create"),
    path("<int:pk>/", views.round_detail, name="round_detail"),
    path("<int:pk>/propose/", views.round_propose, name="round_propose"),
    path("<int:pk>/propose/system/", views.round_propose_system, name="round_propose_system"),
    path("<int:pk>/steps/", views.step_list, name="step_list"),
    path("<int:pk>/steps/new/", views.step_record, name="step_record"),
    path("<int:pk>/steps/<int:record_pk>/", views.record_detail, name="record_detail"),
    path(
        "<int:pk>/steps/<int:record_pk>/objections/",
        views.objection_raise,
        name="objection_raise",
    ),
    path(
        "<int:pk>/objections/<int:objection_pk>/resolve/",
        views.objection_resolve,
        name="objection_resolve",
    ),
    path("<int:pk>/files/<int:attachment_pk>/", views.file_download, name="file_download"),
    # --- the 双认定 acceptance form ---
    path("<int:pk>/households/<int:rh_pk>/acceptance/", views.acceptance, name="acceptance"),
    path(
        "<int:pk>/households/<int:rh_pk>/acceptance/print/",
        views.acceptance_print,
        name="acceptance_print",
    ),
    path(
        "<int:pk>/households/<int:rh_pk>/acceptance.pdf",
        views.acceptance_pdf,
        name="acceptance_pdf",
    ),
    # --- village and county exit (贫困村、贫困县摘帽) ---
    path("villages/", area_views.village_list, name="village_list"),
    path("villages/export.xlsx", area_views.village_export, name="village_export"),
    path("villages/<str:code>/", area_views.village_exit, name="village"),
    path("counties/ranking/", area_views.county_ranking, name="ranking"),
    path("counties/ranking/export.xlsx", area_views.ranking_export, name="ranking_export"),
    path("counties/<str:code>/", area_views.county_exit, name="county"),
    # --- the facts the county enters for them ---
    path("facts/", area_views.facts_list, name="facts_list"),
    path("facts/import/", area_views.facts_import, name="facts_import"),
    path("facts/template.xlsx", area_views.facts_template, name="facts_template"),
    path("facts/<str:code>/", area_views.facts_edit, name="facts_edit"),
]
