"""The site's API keys (digests only) and the lists its users track events in."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models


def digest(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8", "surrogatepass")).hexdigest()


class APIKey(models.Model):
    """An API key of a user; the key itself is shown once, at creation, and never stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    digest = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(auto_now_add=True)

    @classmethod
    def create(cls, user: models.Model) -> str:
        key = secrets.token_urlsafe(32)
        cls.objects.create(user=user, digest=digest(key))
        return key

    @classmethod
    def user_for(cls, api_key: str) -> int | None:
        """The id of the active user holding this key, or ``None``."""
        found = cls.objects.filter(digest=digest(api_key), user__is_active=True).values_list("user_id", flat=True)
        return found.first()


class TrackedList(models.Model):
    """A subscriber list: its owner may track events in it and read its properties."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tracked_lists")
    name = models.CharField(max_length=200)

    def __str__(self) -> str:
        return self.name
