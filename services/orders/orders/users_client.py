"""The users API, as orders sees it: does this user exist? Over the private network, by name."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import httpx

from chassis.problems import Problem
from chassis.settings import SettingsError, env

log = logging.getLogger(__name__)


@dataclass
class UsersClient:
    base_url: str
    timeout: float
    transport: httpx.BaseTransport | None = None  # tests may plug a fake one in

    def __post_init__(self):
        # One pooled client per worker process; httpx.Client is thread-safe.
        self._client = httpx.Client(base_url=self.base_url, timeout=self.timeout, transport=self.transport)

    @classmethod
    def from_env(cls, environ=os.environ) -> UsersClient:
        # The default is the users service's name, which resolves the same in compose and Kubernetes.
        url = env("USERS_URL", "http://users:8000", environ=environ)
        if not url.startswith(("http://", "https://")):
            raise SettingsError(f"USERS_URL={url!r} must be an http(s) URL")
        try:
            timeout = float(env("USERS_TIMEOUT_SECONDS", "2", environ=environ))
        except ValueError:
            raise SettingsError("USERS_TIMEOUT_SECONDS must be a number of seconds") from None
        return cls(url.rstrip("/"), timeout)

    def require_user(self, user_id: int, request_id: str) -> None:
        """Return if the user exists; raise 422 if it does not, 503 if users cannot tell."""
        try:
            response = self._client.get(f"/{user_id}", headers={"X-Request-ID": request_id})
        except httpx.HTTPError as exc:
            log.warning("users unreachable: %s", exc.__class__.__name__)
            raise Problem(503, "Service Unavailable", "The users service is unreachable; retry shortly.") from None
        if response.status_code == 404:
            raise Problem(422, "Unprocessable Content", f"User {user_id} does not exist.",
                          errors=[{"location": "user_id", "message": "unknown user", "type": "unknown_user"}])
        if response.status_code != 200:
            log.warning("users answered %s for user %s", response.status_code, user_id)
            raise Problem(503, "Service Unavailable", "The users service could not confirm the user.")
