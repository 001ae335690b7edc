"""``manage.py createlist USERNAME NAME``: prints ``{"list_id": 1}``."""

import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from members.models import TrackedList


class Command(BaseCommand):
    help = "Create a list owned by USERNAME; print its id as one JSON object."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("name")

    def handle(self, *args, **options):
        User = get_user_model()
        try:
            user = User.objects.get_by_natural_key(options["username"])
        except User.DoesNotExist:
            raise CommandError(f"no user named {options['username']!r}") from None
        tracked = TrackedList.objects.create(owner=user, name=options["name"])
        self.stdout.write(json.dumps({"list_id": tracked.pk}))
