"""Every environment variable this service reads (name -> required)."""

from chassis.settings import BASE_ENV_VARS

ENV_VARS: dict[str, bool] = {
    **BASE_ENV_VARS,
    "USERS_URL": False,  # default http://users:8000: a service name, never an IP
    "USERS_TIMEOUT_SECONDS": False,
}
