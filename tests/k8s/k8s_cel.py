"""The CRDs' CEL validation rules (x-kubernetes-validations), evaluated offline.

The API server evaluates each rule with `self` bound to the value at the rule's place in the
schema, after defaulting; a false result (or an evaluation error) rejects the object. This does
the same with cel-python: schema defaults are applied first, then every rule is evaluated at
every place the object has a value for. Transition rules (those that use oldSelf) compare an
update with the stored object; there is no stored object offline, so they are skipped (the API
server skips them on create too).
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass

import celpy
from k8s_lib import ref
from k8s_schemas import PINNED, raw_schema


@dataclass(frozen=True)
class Rule:
    path: str  # where in the object, as a schema path ('spec.listeners[*]')
    rule: str
    message: str


@functools.cache
def _environment() -> celpy.Environment:
    return celpy.Environment()


@functools.cache
def _program(rule: str):
    env = _environment()
    return env.program(env.compile(rule))


def rules_of(schema: dict, path: str = "") -> list[Rule]:
    """Every CEL rule of a schema, with where it applies."""
    found = [
        Rule(path or "(root)", r["rule"], r.get("message") or r.get("messageExpression") or r["rule"])
        for r in schema.get("x-kubernetes-validations") or []
    ]
    for key, child in (schema.get("properties") or {}).items():
        found += rules_of(child, f"{path}.{key}" if path else key)
    if isinstance(schema.get("items"), dict):
        found += rules_of(schema["items"], f"{path}[*]")
    if isinstance(schema.get("additionalProperties"), dict):
        found += rules_of(schema["additionalProperties"], f"{path}{{*}}")
    return found


def apply_defaults(value, schema: dict):
    """Structural defaulting, as the API server does before validation."""
    if isinstance(value, dict):
        for key, child in (schema.get("properties") or {}).items():
            if key not in value and "default" in child:
                value[key] = copy.deepcopy(child["default"])
            if key in value:
                value[key] = apply_defaults(value[key], child)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key in [k for k in value if k not in (schema.get("properties") or {})]:
                value[key] = apply_defaults(value[key], extra)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [apply_defaults(v, schema["items"]) for v in value]
    return value


def _evaluate(rule: str, value) -> tuple[bool, str | None]:
    """(passed, error)."""
    try:
        result = _program(rule).evaluate({"self": celpy.json_to_cel(value)})
    except Exception as exc:  # cel-python raises for evaluation errors; so does the API server
        return False, f"{type(exc).__name__}: {exc}"
    if isinstance(result, celpy.CELEvalError):
        return False, str(result)
    return bool(result), None


def _walk(value, schema: dict, path: str):
    """(path, value, schema) for every place of the object that has a schema."""
    yield path or "(root)", value, schema
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for key, child in value.items():
            sub = props.get(key, extra if isinstance(extra, dict) else None)
            if sub is not None:
                yield from _walk(child, sub, f"{path}.{key}" if path else key)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, child in enumerate(value):
            yield from _walk(child, schema["items"], f"{path}[{i}]")


def is_transition_rule(rule: str) -> bool:
    return "oldSelf" in rule


def violations(obj: dict) -> list[str]:
    """'Kind/name: field.path: message (rule)' for each CEL rule the object breaks."""
    key = (obj.get("apiVersion"), obj.get("kind"))
    if key not in PINNED:
        return []
    schema = raw_schema(*key)
    value = apply_defaults(copy.deepcopy(obj), schema)
    out = []
    for path, node, node_schema in _walk(value, schema, ""):
        for r in node_schema.get("x-kubernetes-validations") or []:
            if is_transition_rule(r["rule"]):
                continue
            passed, error = _evaluate(r["rule"], node)
            if not passed:
                message = r.get("message") or r["rule"]
                out.append(f"{ref(obj)}: {path}: {message} (rule {r['rule']!r}{': ' + error if error else ''})")
    return out


def evaluated_rule_count(obj: dict) -> int:
    key = (obj.get("apiVersion"), obj.get("kind"))
    if key not in PINNED:
        return 0
    schema = raw_schema(*key)
    value = apply_defaults(copy.deepcopy(obj), schema)
    return sum(
        1
        for _p, _n, s in _walk(value, schema, "")
        for r in s.get("x-kubernetes-validations") or []
        if not is_transition_rule(r["rule"])
    )
