# gunicorn reads this file from the working directory; the settings are shared by all services.
from chassis.gunicorn_conf import *  # noqa: F403
