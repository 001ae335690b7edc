from django.apps import AppConfig


class MembersConfig(AppConfig):
    """The site's own API keys and tracked lists."""

    name = "members"
