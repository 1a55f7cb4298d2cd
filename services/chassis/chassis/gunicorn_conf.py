"""gunicorn settings of every service: the image runs ``gunicorn --config python:chassis.gunicorn_conf``
and the app is the package named by SERVICE_NAME (set by the image's build arg)."""

import os
import sys

from gunicorn.util import import_app

from chassis import sizing
from chassis.settings import SettingsError

_size = sizing.from_environment()
_service = os.environ.get("SERVICE_NAME", "")
if not _service.isidentifier():
    sys.exit(f"SERVICE_NAME={_service!r} does not name a service package")

wsgi_app = f"{_service}:create_app()"
bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
worker_class = "gthread"
workers = _size.workers
threads = _size.threads
# No preload: the app (and its database engines) is created in each worker after the fork.
preload_app = False
# SIGTERM: stop accepting, finish in-flight requests within graceful_timeout (compose and
# Kubernetes give 30 s before SIGKILL), then exit.
graceful_timeout = 20
timeout = 30
keepalive = 75  # longer than nginx's upstream keepalive_timeout, so nginx closes idle ones first
worker_tmp_dir = "/dev/shm"  # heartbeat files in memory: works with a read-only root filesystem
# No control socket (gunicornc): compose and Kubernetes manage the process with signals, and the
# socket's default place ($HOME) is not writable under a read-only root.
control_socket_disable = True
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")
logger_class = "chassis.logs.AccessLogger"
forwarded_allow_ips = "*"  # only nginx can reach the service (internal network)
proc_name = _service


def when_ready(server):
    server.log.info(f"sizing: {_size.workers} workers x {_size.threads} threads ({_size.reason})")


def on_starting(server):
    """Fail fast, in the master: build the app once to validate every setting and secret (engines
    are lazy, so no connection is opened before the fork). A bad setting is one clear log line and
    exit status 1, instead of workers crashing in a loop."""
    try:
        import_app(server.app.app_uri)
    except SettingsError as exc:
        server.log.error(f"refusing to start: {exc}")
        sys.exit(1)
