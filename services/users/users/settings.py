"""Every environment variable this service reads (name -> required)."""

from chassis.settings import BASE_ENV_VARS

ENV_VARS: dict[str, bool] = dict(BASE_ENV_VARS)
