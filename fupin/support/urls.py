from __future__ import annotations

from typing import Any

from django.urls import path

from fupin.support import views

app_name = "support"

urlpatterns: list[Any] = [
    # --- cadres and pairings, rectification lists ---
    path("cadres/", views.cadre_list, name="cadre_list"),
    path("cadres/new/", views.cadre_create, name="cadre_create"),
    path("cadres/<int:pk>/", views.cadre_detail, name="cadre_detail"),
    path("cadres/<int:pk>/edit/", views.cadre_edit, name="cadre_edit"),
    path("cadres/<int:pk>/pair/", views.cadre_pair, name="cadre_pair"),
    path("households/<int:household_pk>/pair/", views.household_pair, name="household_pair"),
    path("pairings/<int:pk>/end/", views.pairing_end, name="pairing_end"),
    path("pairings/<int:pk>/reassign/", views.pairing_reassign, name="pairing_reassign"),
    path("rectification/", views.rectification, name="rectification"),
    path(
        "rectification/<slug:key>.xlsx",
        views.rectification_export,
        name="rectification_export",
    ),
    # --- resident teams, check-ins, attendance ---
    path("teams/", views.team_list, name="team_list"),
    path("teams/new/", views.team_create, name="team_create"),
    path("teams/<int:pk>/", views.team_detail, name="team_detail"),
    path("teams/<int:pk>/members/", views.team_member_add, name="team_member_add"),
    path(
        "teams/<int:pk>/members/<int:member_pk>/end/",
        views.team_member_end,
        name="team_member_end",
    ),
    path("teams/<int:pk>/attendance/", views.team_attendance, name="team_attendance"),
    path(
        "teams/<int:pk>/attendance/<int:year>/<int:month>/",
        views.team_attendance,
        name="team_attendance_month",
    ),
    path("villages/<str:code>/geofence/", views.team_geofence, name="team_geofence"),
    path("checkin/", views.team_checkin, name="team_checkin"),
    # --- plans, measures, visits, ledgers, booklet ---
    path("households/<int:pk>/", views.household_support, name="household_support"),
    path("households/<int:pk>/panel/", views.household_panel, name="household_panel"),
    path("households/<int:pk>/plan/", views.plan_save, name="plan_save"),
    path("households/<int:pk>/measures/new/", views.measure_edit, name="measure_create"),
    path(
        "households/<int:pk>/measures/<int:measure_pk>/",
        views.measure_edit,
        name="measure_edit",
    ),
    path(
        "households/<int:pk>/measures/<int:measure_pk>/remove/",
        views.measure_remove,
        name="measure_remove",
    ),
    path("households/<int:pk>/visits/new/", views.visit_create, name="visit_create"),
    path(
        "households/<int:pk>/visits/<int:visit_pk>/photos/<int:photo_pk>/",
        views.visit_photo,
        name="visit_photo",
    ),
    path("households/<int:pk>/ledger/new/", views.ledger_create, name="ledger_create"),
    path("households/<int:pk>/booklet/", views.booklet, name="booklet"),
    path("households/<int:pk>/booklet.pdf", views.booklet_pdf, name="booklet_pdf"),
    # --- social help ---
    path("needs/", views.need_list, name="need_list"),
    path("needs/public/", views.need_public, name="need_public"),
    path("needs/new/", views.need_create, name="need_create"),
    path("needs/<int:pk>/", views.need_detail, name="need_detail"),
    path("needs/<int:pk>/review/", views.need_review, name="need_review"),
    path("needs/<int:pk>/claim/", views.need_claim, name="need_claim"),
    path("needs/<int:pk>/carried-out/", views.need_carry_out, name="need_carry_out"),
    path("needs/<int:pk>/accept/", views.need_accept, name="need_accept"),
]
