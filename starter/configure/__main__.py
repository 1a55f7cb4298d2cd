"""Command line: python -m starter.configure <command> (make configure / service / update).

    project [--slug S] [--title T] [--registry R] [--repo-url U] [--http-port P]
        set the names that differ between projects (make configure; Copier runs it on every
        copy and update); idempotent
    service NAME [--vcs-ref REF]     add a service (make service NAME=...)
    register-service NAME            list a scaffolded service where no glob can (Copier's task)
    update [--vcs-ref REF]           pull template releases (make update)
    check-name NAME                  only say whether NAME is a usable service name

A refused request is told in one line on stderr (exit 2) and writes nothing.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from .files import Refused


def cmd_project(args) -> int:
    from .rename import cmd_project as run

    return run(args)


def cmd_service(args) -> int:
    from .services import cmd_service as run

    return run(args)


def cmd_register_service(args) -> int:
    from .services import cmd_register_service as run

    return run(args)


def cmd_check_name(args) -> int:
    from .services import cmd_check_name as run

    return run(args)


def cmd_update(args) -> int:
    from .update import cmd_update as run

    return run(args)


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="python -m starter.configure", description=__doc__.splitlines()[0])
    sub = main.add_subparsers(dest="command", required=True)
    project = sub.add_parser("project", help="set the project's names (idempotent)")
    project.add_argument("--slug")
    project.add_argument("--title")
    project.add_argument("--registry")
    project.add_argument("--repo-url")
    project.add_argument("--http-port", type=int)
    project.add_argument("--install-project-files", action="store_true",
                         help="first move starter/project/* over the template's versions (Copier's task)")
    project.set_defaults(func=cmd_project)
    service = sub.add_parser("service", help="add a service")
    service.add_argument("name")
    service.add_argument("--vcs-ref", help="template version (default: the project's)")
    service.set_defaults(func=cmd_service)
    register = sub.add_parser("register-service", help="list a scaffolded service (Copier task)")
    register.add_argument("name")
    register.set_defaults(func=cmd_register_service)
    update = sub.add_parser("update", help="copier update, the project's answers and each service's")
    update.add_argument("--vcs-ref", help="template version (default: the newest vX.Y.Z tag)")
    update.set_defaults(func=cmd_update)
    check = sub.add_parser("check-name", help="is NAME a usable new service name?")
    check.add_argument("name")
    check.set_defaults(func=cmd_check_name)
    return main


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except Refused as refused:
        print(f"configure {args.command}: {refused}", file=sys.stderr)
    except (OSError, subprocess.SubprocessError) as error:
        print(f"configure {args.command}: {type(error).__name__}: {error}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
