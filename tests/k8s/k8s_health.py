"""Argo CD's Lua health checks (k8s/argocd/install/argocd-cm.yaml), run in a real Lua 5.1
(lupa), the Lua version of Argo CD's interpreter (gopher-lua)."""

from __future__ import annotations

import yaml
from k8s_lib import K8S
from lupa.lua51 import LuaRuntime

ARGOCD_CM = K8S / "argocd/install/argocd-cm.yaml"


def health_script(group_kind: str, text: str | None = None) -> str:
    cm = yaml.safe_load(text if text is not None else ARGOCD_CM.read_text())
    return cm["data"][f"resource.customizations.health.{group_kind}"]


def health(script: str, obj: dict) -> tuple[str, str]:
    """(status, message) that the script reports for obj."""
    lua = LuaRuntime(unpack_returned_tuples=True)
    lua.globals().obj = lua.table_from(obj, recursive=True)
    result = lua.execute(script)
    return result["status"], result["message"]
