from django.contrib import admin

from .models import TrackedList, TrackerKey

admin.site.register(TrackedList)


@admin.register(TrackerKey)
class TrackerKeyAdmin(admin.ModelAdmin):
    """Listed and revoked here; created by ``manage.py createtracker`` (the key is shown once, then only its digest)."""

    list_display = ("id", "tracked_list", "origins", "server_side", "created", "revoked")
    readonly_fields = ("digest", "tracked_list", "created")
