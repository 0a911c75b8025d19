from django.urls import path

from fupin.core import job_views

app_name = "jobs"
urlpatterns = [
    path("", job_views.job_list, name="list"),
    path("<int:pk>/", job_views.job_detail, name="detail"),
    path("<int:pk>/progress/", job_views.job_progress, name="progress"),
    path("<int:pk>/result/", job_views.job_result, name="result"),
    path("<int:pk>/cancel/", job_views.job_cancel, name="cancel"),
]
