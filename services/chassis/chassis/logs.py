"""JSON logs on stdout/stderr: one object per line, with the request id when there is one."""

from __future__ import annotations

import json
import logging
import sys
import time

from flask import g, has_request_context
from gunicorn.glogging import Logger as GunicornLogger


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(record.created)),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if has_request_context() and "request_id" in g:
            entry["request_id"] = g.request_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


class AccessLogger(GunicornLogger):
    """gunicorn's access log as JSON (its format strings cannot escape quotes in values)."""

    def setup(self, cfg):
        super().setup(cfg)
        for handler in self.error_log.handlers:  # access lines are JSON already, see access()
            handler.setFormatter(JsonFormatter())

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        headers = {key.lower(): value for key, value in resp.headers}
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "type": "access",
            "request_id": headers.get("x-request-id"),
            "method": environ.get("REQUEST_METHOD"),
            "path": environ.get("PATH_INFO"),
            "query": environ.get("QUERY_STRING") or None,
            "status": int(str(resp.status).split(None, 1)[0]),
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 2),
            "remote": environ.get("REMOTE_ADDR"),
            "db_host": headers.get("x-db-host"),
        }
        self.access_log.info(json.dumps(entry, ensure_ascii=False))
