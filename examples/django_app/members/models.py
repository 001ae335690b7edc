"""The site's API keys (digests only), the lists its users track events in, and the lists' tracker keys."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import models
from django.utils import timezone

import octeth_tracking
from octeth_tracking.origins import normalize_origin
from octeth_tracking.storage import new_tracker_key


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


class TrackerKey(models.Model):
    """A public tracker key of a list, for web pages on its origins; digest only, shown once at creation.

    Only the list's owner may create one (:meth:`create`): the site's own accounts decide.
    """

    tracked_list = models.ForeignKey(TrackedList, on_delete=models.CASCADE, related_name="tracker_keys")
    digest = models.CharField(max_length=64, unique=True)
    origins = models.JSONField(default=list)  # normalised: https://example.com, https://*.example.com
    server_side = models.BooleanField(default=False)  # also usable without an Origin
    created = models.DateTimeField(auto_now_add=True)
    revoked = models.DateTimeField(null=True, blank=True)

    @classmethod
    def create(cls, user: models.Model, tracked_list: TrackedList, origins: list[str], server_side: bool = False) -> str:
        """A new key for ``tracked_list``; ``PermissionDenied`` unless ``user`` owns it, ``ValueError`` for a bad origin."""
        if tracked_list.owner_id != user.pk:
            raise PermissionDenied(f"{tracked_list} is not {user}'s list")
        allowlist = sorted({normalize_origin(origin) for origin in origins})
        key = new_tracker_key()
        cls.objects.create(tracked_list=tracked_list, digest=digest(key), origins=allowlist, server_side=server_side)
        return key

    @classmethod
    def find(cls, key: str) -> octeth_tracking.TrackerKey | None:
        """The live key, as the tracking API needs it, or ``None``."""
        found = cls.objects.filter(digest=digest(key), revoked__isnull=True).first()
        if found is None:
            return None
        return octeth_tracking.TrackerKey(id=found.pk, list_id=found.tracked_list_id, origins=tuple(found.origins),
                                          server_side=found.server_side)

    def revoke(self) -> None:
        self.revoked = timezone.now()
        self.save(update_fields=["revoked"])
