"""``manage.py revoketracker KEY``: prints ``{"revoked": true}``; the key gets 401 from then on."""

import json

from django.core.management.base import BaseCommand, CommandError

from members.models import TrackerKey, digest


class Command(BaseCommand):
    help = "Revoke a tracker key; print whether it was live as one JSON object."

    def add_arguments(self, parser):
        parser.add_argument("key")

    def handle(self, *args, **options):
        found = TrackerKey.objects.filter(digest=digest(options["key"]), revoked__isnull=True).first()
        if found is not None:
            found.revoke()
        self.stdout.write(json.dumps({"revoked": found is not None}))
        if found is None:
            raise CommandError("no such live tracker key")
