"""The users service: people who can place orders."""

from chassis.app import app_factory

__version__ = "0.1.0"
create_app = app_factory("users", __version__)
