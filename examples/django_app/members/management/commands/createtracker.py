"""``manage.py createtracker USERNAME LIST_ID --origin https://...``: prints ``{"tracker_id": 1, "tracker_key": "otk_..."}``."""

import json

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from members.models import TrackedList, TrackerKey


class Command(BaseCommand):
    help = "Create a public tracker key for one of USERNAME's lists; print it as one JSON object."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("list_id", type=int)
        parser.add_argument("--origin", action="append", default=[], help="a site that may use it; repeat for more")
        parser.add_argument("--server-side", action="store_true", help="also accept requests without an Origin")

    def handle(self, *args, **options):
        User = get_user_model()
        try:
            user = User.objects.get_by_natural_key(options["username"])
            tracked_list = TrackedList.objects.get(pk=options["list_id"])
            key = TrackerKey.create(user, tracked_list, options["origin"], options["server_side"])
        except (User.DoesNotExist, TrackedList.DoesNotExist):
            raise CommandError(f"no user {options['username']!r} with a list {options['list_id']}") from None
        except (PermissionDenied, ValueError) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(json.dumps({"tracker_id": TrackerKey.find(key).id, "tracker_key": key}))
