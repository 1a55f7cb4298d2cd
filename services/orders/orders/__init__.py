"""The orders service: orders placed by users (checked through the users API)."""

from chassis.app import app_factory

__version__ = "0.1.0"


def _call_users(app, environ) -> None:
    from orders.users_client import UsersClient

    app.extensions["users_client"] = UsersClient.from_env(environ)


create_app = app_factory("orders", __version__, setup=_call_users)
