"""The project's own names, services and template updates (`python -m starter.configure`).

One module per job:
    files     where the project is, reading and writing its files, its slug (compose.yaml)
    names     which project slugs and service names are usable
    rename    `project`: write the project's names where files cannot read a variable
    template  where the template is (the answers file) and how Copier is called
    services  `service` and `register-service`: add a service from the scaffold, list it
    update    `update`: pull template releases into the project and each service

Two dependency rules: `project` (files, names, rename) needs only the standard library, because
Copier runs it as a task under its own interpreter; the other commands run under the interpreter
that has Copier (make's starter venv, starter/requirements.txt) and import PyYAML, ruamel.yaml
and pre-commit only from there.
"""
