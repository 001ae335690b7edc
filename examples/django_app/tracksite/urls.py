"""The site's pages, the admin (where a user logs in), the tracking API under /api/v1/, and
Octeth's legacy /api.php at the root."""

from django.contrib import admin
from django.urls import include, path

from members import views
from octeth_tracking.contrib.django import tracking_view

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("octeth_tracking.contrib.django")),
    path("api.php", tracking_view, {"path": "api.php"}),
]
