"""Alembic's environment for every service: migrate the database of the service being migrated
(``service`` in the config, set by ``chassis.migrations.config``; else SERVICE_NAME, which the
image sets; else the folder alembic runs from)."""

import importlib
import os
from pathlib import Path

from alembic import context

from chassis.migrations import run

service = context.config.get_main_option("service") or os.environ.get("SERVICE_NAME") or Path.cwd().name
run(importlib.import_module(f"{service}.models").Base.metadata, service)
