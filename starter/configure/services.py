"""`service` adds a service from the scaffold (starter/scaffold/service) with Copier;
`register-service` (Copier's task after it) lists it where no glob can: compose's include:, the
kustomizations' resources:, images:, replicas: and configMapGenerator:. ruamel.yaml edits those
files keeping their comments and layout."""

from __future__ import annotations

import sys
from pathlib import Path

from .files import ROOT, Refused, current_slug, overlay_files, read
from .names import SERVICE_RE, service_name_problems
from .template import copier, failure_line, template_source


def cmd_check_name(args) -> int:
    problems = service_name_problems(args.name)
    for problem in problems:
        print(f"service name refused: {problem}", file=sys.stderr)
    return 1 if problems else 0


def cmd_service(args) -> int:
    problems = service_name_problems(args.name)
    if problems:
        raise Refused("; ".join(problems))
    src, ref = template_source(args.vcs_ref)
    result = copier("copy", "--trust", "--defaults", "--quiet", "--vcs-ref", ref,
                    "--data", "kind=service", "--data", f"service_name={args.name}",
                    "--data", f"project_slug={current_slug()}", src, str(ROOT))
    if result.returncode != 0:
        raise Refused(f"copier could not add the service (exit {result.returncode}): {failure_line(result)}")
    print(result.stdout, end="")
    print(f"service {args.name}: added services/{args.name}, nginx routes, k8s/base/apps/{args.name} "
          f"(answers in services/{args.name}/.copier-answers.yml). Next: make test; make up; "
          f"curl localhost:<port>/api/{args.name}; create its {args.name}-db-credentials Secret in Kubernetes.")
    return 0


def round_trip():
    try:
        from ruamel.yaml import YAML
    except ImportError:
        raise Refused("ruamel.yaml is missing: add services with `make service NAME=...` (it runs Copier "
                      "from the starter venv, which has it)") from None

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap long lines
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def edit_yaml(path: Path, change, changed: list[str]) -> None:
    yaml = round_trip()
    doc = yaml.load(read(path))
    if change(doc):
        with path.open("w", encoding="utf-8") as out:
            yaml.dump(doc, out)
        changed.append(str(path.relative_to(ROOT)))


def append_once(sequence, value) -> bool:
    if value in sequence:
        return False
    sequence.append(value)
    # ruamel keeps what follows the last item (a blank line, a comment) attached to that item:
    # hand it to the new last item, so the new line goes right below the others.
    last = len(sequence) - 2
    comments = getattr(sequence, "ca", None)
    if comments is not None and last in comments.items:
        comments.items[last + 1] = comments.items.pop(last)
    return True


def flow_map(**items):
    from ruamel.yaml.comments import CommentedMap

    mapping = CommentedMap(items)
    mapping.fa.set_flow_style()
    return mapping


def flow_seq(*items):
    from ruamel.yaml.comments import CommentedSeq

    sequence = CommentedSeq(items)
    sequence.fa.set_flow_style()
    return sequence


def add_overlay_entries(doc, name: str, slug: str, dev: bool) -> bool:
    from ruamel.yaml.comments import CommentedMap

    changed = False
    images = doc.get("images")
    if images is not None and not any(i["name"] == f"{slug}/{name}" for i in images):
        # Same registry and tag as the front (nginx); the next release writes the real tag.
        like = next((i for i in images if i["name"] == f"{slug}/nginx"), images[0] if images else {})
        registry = str(like.get("newName", f"registry.example.com/{slug}/nginx")).rsplit("/", 2)[0]
        entry = CommentedMap(name=f"{slug}/{name}", newName=f"{registry}/{slug}/{name}")
        if "newTag" in like:
            entry["newTag"] = like["newTag"]
        position = next((k for k, i in enumerate(images) if i["name"] > entry["name"]), len(images))
        images.insert(position, entry)  # sorted, as k8s/tools/set_image_tags.py writes them
        changed = True
    if dev:
        replicas = doc.get("replicas")
        if replicas is not None and not any(r["name"] == name for r in replicas):
            append_once(replicas, flow_map(name=name, count=1))
            changed = True
        generators = doc.get("configMapGenerator")
        if generators is not None and not any(g["name"] == f"{name}-config" for g in generators):
            append_once(generators, CommentedMap(name=f"{name}-config", behavior="merge",
                                                 literals=flow_seq("LOG_LEVEL=debug")))
            changed = True
    return changed


def cmd_register_service(args) -> int:
    name, slug, changed = args.name, current_slug(), []
    if not SERVICE_RE.match(name):
        raise Refused(f"'{name}' is not a service name")
    if not (ROOT / "services" / name / "compose.yaml").is_file():
        raise Refused(f"services/{name}/compose.yaml does not exist: scaffold the service first")
    edit_yaml(ROOT / "compose.yaml", lambda d: append_once(d["include"], f"services/{name}/compose.yaml"), changed)
    apps = ROOT / "k8s/base/apps/kustomization.yaml"
    if (ROOT / "k8s/base/apps" / name).is_dir():
        edit_yaml(apps, lambda d: append_once(d["resources"], name), changed)
    for path in overlay_files():
        environment = path.parent.parent.name

        def change(doc, environment=environment, path=path):
            done = add_overlay_entries(doc, name, slug, dev=environment == "dev")
            if (path.parent / f"{name}.yaml").is_file():
                done = append_once(doc.setdefault("resources", []), f"{name}.yaml") or done
            return done

        edit_yaml(path, change, changed)
    print(f"register-service {name}: " + (", ".join(changed) if changed else "already listed everywhere"))
    return 0
