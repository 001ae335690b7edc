from django.contrib import admin

from .models import TrackedList

admin.site.register(TrackedList)
