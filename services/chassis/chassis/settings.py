"""Settings from the environment, secrets from files; refuse to start on anything unsafe.

Each variable a service or its gunicorn reads is declared in one place (``BASE_ENV_VARS`` here,
``ENV_VARS`` in the service's settings module) so that tests can prove compose and Kubernetes
provide all of them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# name -> required. Secrets may come as NAME or NAME_FILE; the file wins.
BASE_ENV_VARS: dict[str, bool] = {
    "DATABASE_PRIMARY_HOSTS": True,
    "DATABASE_REPLICA_HOSTS": False,
    "DATABASE_PORT": False,
    "DATABASE_NAME": False,  # default: the service's name (each service owns a database and role)
    "DATABASE_USER": False,  # default: the service's name
    "DATABASE_PASSWORD_FILE": True,
    "LOG_LEVEL": False,
    # Read by gunicorn (chassis.gunicorn_conf, chassis.sizing). SERVICE_NAME comes from the image.
    "SERVICE_NAME": False,
    "PORT": False,
    "WEB_CONCURRENCY": False,
    "GUNICORN_THREADS": False,
}

# Values that appear in tutorials and default configs: never acceptable as a real secret.
WELL_KNOWN_SECRETS = frozenset(
    {"postgres", "password", "changeme", "change-me", "secret", "example", "admin", "test", "default"}
)
MIN_SECRET_LENGTH = 12


class SettingsError(RuntimeError):
    """A setting is missing or unsafe; the message names the variable and what to do."""


def env(name: str, default: str | None = None, *, environ=os.environ) -> str:
    value = environ.get(name, "").strip()
    if value:
        return value
    if default is None:
        raise SettingsError(f"{name} is not set")
    return default


def secret(name: str, *, environ=os.environ) -> str:
    """Read a secret from ``NAME_FILE`` (preferred) or ``NAME``; reject empty and default values."""
    path = environ.get(f"{name}_FILE", "").strip()
    if path:
        try:
            value = Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SettingsError(f"{name}_FILE={path} cannot be read: {exc.strerror}") from None
        source = f"{name}_FILE={path}"
    else:
        value = environ.get(name, "").strip()
        source = name
    if not value:
        raise SettingsError(f"{source} is empty or not set: generate secrets with `make secrets`")
    if value.lower() in WELL_KNOWN_SECRETS or len(value) < MIN_SECRET_LENGTH:
        raise SettingsError(
            f"{source} is a default or too short (< {MIN_SECRET_LENGTH} characters)"
        )
    return value


def host_list(value: str) -> tuple[str, ...]:
    hosts = tuple(h.strip() for h in value.split(",") if h.strip())
    if not hosts:
        raise SettingsError(f"empty host list: {value!r}")
    return hosts


@dataclass(frozen=True)
class DatabaseSettings:
    primary_hosts: tuple[str, ...]
    replica_hosts: tuple[str, ...]
    port: int
    name: str
    user: str
    password: str = ""

    def __repr__(self) -> str:  # never print the password
        return f"DatabaseSettings(primary={self.primary_hosts}, replica={self.replica_hosts}, db={self.name})"

    @classmethod
    def from_env(cls, environ=os.environ) -> DatabaseSettings:
        primary = host_list(env("DATABASE_PRIMARY_HOSTS", environ=environ))
        port = env("DATABASE_PORT", "5432", environ=environ)
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise SettingsError(f"DATABASE_PORT={port!r} is not a port number")
        return cls(
            primary_hosts=primary,
            # Without a replica list, reads go to the primary hosts (prefer-standby still applies).
            replica_hosts=host_list(env("DATABASE_REPLICA_HOSTS", ",".join(primary), environ=environ)),
            port=int(port),
            name=env("DATABASE_NAME", environ.get("SERVICE_NAME"), environ=environ),
            user=env("DATABASE_USER", environ.get("SERVICE_NAME"), environ=environ),
            password=secret("DATABASE_PASSWORD", environ=environ),
        )
