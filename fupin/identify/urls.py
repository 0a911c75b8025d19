from django.urls import path

from fupin.identify import views

app_name = "identify"
urlpatterns = [
    path("", views.campaign_list, name="campaign_list"),
    path("new/", views.campaign_create, name="campaign_create"),
    path("<int:pk>/", views.campaign_detail, name="campaign_detail"),
    path("<int:pk>/quotas/", views.quotas_edit, name="quotas_edit"),
    path("<int:pk>/quotas/file/", views.quotas_upload, name="quotas_upload"),
    path("<int:pk>/score/", views.campaign_score, name="campaign_score"),
    path("<int:pk>/county/<str:code>/", views.county_detail, name="county_detail"),
    path(
        "<int:pk>/households/<int:household_pk>/",
        views.household_score,
        name="household_score",
    ),
    path("<int:pk>/steps/", views.step_list, name="step_list"),
    path("<int:pk>/steps/new/", views.step_record, name="step_record"),
    path("<int:pk>/steps/<int:record_pk>/", views.record_detail, name="record_detail"),
    path(
        "<int:pk>/steps/<int:record_pk>/signatures/<int:attachment_pk>/",
        views.signature_download,
        name="signature_download",
    ),
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
    path("<int:pk>/report/", views.campaign_report, name="campaign_report"),
]

# -- cross-department verification (数据比对) ---------------------------------------------
urlpatterns += [
    path("verification/", views.finding_list, name="finding_list"),
    path("verification/findings/<int:pk>/", views.finding_detail, name="finding_detail"),
    path(
        "verification/households/<int:pk>/",
        views.household_findings,
        name="household_findings",
    ),
    path("verification/datasets/", views.dataset_list, name="dataset_list"),
    path("verification/datasets/<int:pk>/", views.dataset_versions, name="dataset_versions"),
    path("verification/runs/", views.run_list, name="run_list"),
    path("verification/runs/<int:pk>/", views.run_detail, name="run_detail"),
    path("verification/include/", views.include_list, name="include_list"),
]
