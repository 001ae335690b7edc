"""WSGI entry point of the example site (``gunicorn tracksite.wsgi``)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracksite.settings")
application = get_wsgi_application()
