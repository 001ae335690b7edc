"""``manage.py createapikey USERNAME``: prints ``{"api_key": "..."}``, the only time the key is shown."""

import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from members.models import APIKey


class Command(BaseCommand):
    help = "Create an API key for the tracking API; print it as one JSON object."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, **options):
        User = get_user_model()
        try:
            user = User.objects.get_by_natural_key(options["username"])
        except User.DoesNotExist:
            raise CommandError(f"no user named {options['username']!r}") from None
        self.stdout.write(json.dumps({"api_key": APIKey.create(user)}))
