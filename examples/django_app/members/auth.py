"""The tracking API's authenticator: this site's sessions, API keys, lists and tracker keys."""

from __future__ import annotations

from typing import Hashable

from octeth_tracking.contrib.django import DjangoSessionAuthenticator

from octeth_tracking import TrackerKey

from .models import APIKey, TrackedList
from .models import TrackerKey as SiteTrackerKey


class SiteAuthenticator(DjangoSessionAuthenticator):
    """``SessionID``: a logged-in user's session key; ``APIKey``: an :class:`APIKey`; lists: :class:`TrackedList`;
    ``TrackerKey``: a :class:`~members.models.TrackerKey`."""

    def user_for_api_key(self, api_key: str) -> Hashable | None:
        return APIKey.user_for(api_key)

    def can_use_list(self, user_id: Hashable, list_id: int) -> bool:
        return TrackedList.objects.filter(pk=list_id, owner_id=user_id).exists()

    def tracker_key(self, key: str) -> TrackerKey | None:
        return SiteTrackerKey.find(key)
