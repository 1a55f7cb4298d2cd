"""Which project slugs and service names are usable (copier.yml's validators say the same)."""

from __future__ import annotations

import keyword
import re
import sys

from .files import ROOT, Refused, current_slug, read

SLUG_RE = re.compile(r"^[a-z][a-z0-9-]{0,18}[a-z0-9]$")
SERVICE_RE = re.compile(r"^[a-z][a-z0-9]{1,29}$")
# Slugs that already mean something in the named files (a rename could not tell them apart), plus
# the names that would collide in Kubernetes or Argo CD. Same list as copier.yml's validator.
RESERVED_SLUGS = frozenset(
    "api app apps argocd chassis cnpg data database db default dev edge env kube main name nginx "
    "orders platform prod root secrets services shop system test tests users".split()
)
# Service names that name a part of the project, a PostgreSQL role or database, or a module the
# tests import. Same list as copier.yml's validator (which adds the Python keywords).
RESERVED_SERVICES = frozenset(
    "api chassis conftest db default docs harness healthz k8s kubernetes migrations nginx postgres "
    "public readyz replicator scaffold secrets services shop starter template0 template1 test tests "
    "type wheelhouse".split()
)


def slug_problems(slug: str) -> list[str]:
    if not SLUG_RE.match(slug) or "--" in slug:
        return [f"'{slug}': use 2-20 lowercase letters, digits or single hyphens, starting with a letter "
                "and not ending with a hyphen"]
    if slug in RESERVED_SLUGS:
        return [f"'{slug}' is reserved: it already names something in the generated files"]
    return []


def dependency_names() -> set[str]:
    """Distributions the services and tests install: a package of that name would shadow them."""
    names = {"dns", "yaml", "pytest", "_pytest"}  # import names that differ from the distribution
    files = [ROOT / "requirements-dev.txt", ROOT / "starter/requirements.txt", *ROOT.glob("services/*/requirements.txt"),
             *ROOT.glob("tests/*/requirements.txt")]
    for path in files:
        if path.is_file():
            for match in re.finditer(r"(?m)^([A-Za-z0-9][A-Za-z0-9._-]*)", read(path)):
                names.add(re.sub(r"[-.]", "_", match.group(1).lower()))
    return names


def existing_service(name: str) -> str | None:
    for relative in (f"services/{name}", f"k8s/base/apps/{name}", f"nginx/routes/{name}.conf",
                     f"nginx/upstreams/{name}.conf.template"):
        if (ROOT / relative).exists():
            return relative
    return None


def service_name_problems(name: str) -> list[str]:
    if name != name.strip() or " " in name:
        return [f"'{name}' contains spaces"]
    if name != name.lower():
        return [f"'{name}' has uppercase letters: use lowercase"]
    if not SERVICE_RE.match(name):
        return [f"'{name}': use 2-30 lowercase letters or digits, starting with a letter (no '-' or '_': "
                "it is a Python package and a Kubernetes name)"]
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return [f"'{name}' is a Python keyword"]
    if name in RESERVED_SERVICES:
        return [f"'{name}' is reserved: it names a part of the project, a database role or a test module"]
    if name in sys.stdlib_module_names:
        return [f"'{name}' would shadow Python's standard library module of that name"]
    if name in dependency_names():
        return [f"'{name}' would shadow the installed package of that name"]
    try:
        if name == current_slug():
            return [f"'{name}' is the project's own name"]
    except Refused:
        pass
    where = existing_service(name)
    if where:
        return [f"'{name}' already exists ({where})"]
    return []
