"""The site's pages, the admin (where a user logs in), and the tracking API under /api/v1/."""

from django.contrib import admin
from django.urls import include, path

from members import views

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("octeth_tracking.contrib.django")),
]
