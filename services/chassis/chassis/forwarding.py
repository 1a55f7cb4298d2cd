"""What nginx tells a service about the original request (the prefix it stripped)."""

from __future__ import annotations

import re

from flask import request

PREFIX = re.compile(r"^(/[A-Za-z0-9._-]+)*$")


def forwarded_prefix() -> str:
    """The path prefix nginx strips (``/api/users``), for Location headers, problem instances and
    the OpenAPI servers; ignored unless it is a plain path."""
    prefix = request.headers.get("X-Forwarded-Prefix", "").rstrip("/")
    return prefix if PREFIX.match(prefix) else ""


def public_path() -> str:
    """The path as the client sent it, before nginx stripped the prefix."""
    return forwarded_prefix() + request.path
