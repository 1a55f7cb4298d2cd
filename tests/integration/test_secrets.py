"""Secrets: weak ones stop a container at once with one clear log line; none is baked into an image.

The generated secrets (db/secrets.sh, run before the session builds any image) must appear in no
image's history, config or files, and no file of an image may sit under a ``secrets`` path.
"""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
import time
from pathlib import PurePosixPath

import pytest
from testcontainers.core.container import DockerContainer

import integration_helpers as it

EXIT_WITHIN_SECONDS = 10  # "refuses to start" means: exits by itself, quickly


def lines_naming(output: str, variable: str) -> list[str]:
    return [line for line in output.splitlines() if variable in line]


# --- services: DATABASE_PASSWORD -------------------------------------------------------------------

SERVICE_ENV = {"DATABASE_PRIMARY_HOSTS": "db-primary,db-replica", "DATABASE_NAME": "app", "DATABASE_USER": "app",
               "USERS_URL": "http://users:8000", "LOG_LEVEL": "info"}
SECRET_FILE = "/run/secrets/db-password"
# case -> (environment, file content or None, expected message). Empty, default and short; the
# default one through DATABASE_PASSWORD_FILE, the way compose and Kubernetes pass it. The check is
# shared chassis code (its variants are unit-tested in services/chassis/tests/test_settings.py):
# here each image proves it stops on it, quickly and with one line.
WEAK_SERVICE_SECRETS = {
    "users-empty": ({"DATABASE_PASSWORD": ""}, None, "DATABASE_PASSWORD is empty or not set"),
    "users-default-file": ({"DATABASE_PASSWORD_FILE": SECRET_FILE}, "changeme\n",
                           f"DATABASE_PASSWORD_FILE={SECRET_FILE} is a default or too short"),
    "users-short": ({"DATABASE_PASSWORD": "Xq7-short"}, None, "DATABASE_PASSWORD is a default or too short"),
    "orders-default": ({"DATABASE_PASSWORD": "changeme"}, None, "DATABASE_PASSWORD is a default or too short"),
}

# case -> (mode, environment, expected message; its first word is the variable)
WEAK_DB_SECRETS = {
    "node-default": ("node", {"POSTGRES_PASSWORD": "changeme"}, "POSTGRES_PASSWORD is a well-known default password"),
    "node-empty": ("node", {"POSTGRES_PASSWORD": ""}, "POSTGRES_PASSWORD is empty"),
    "node-short": ("node", {"POSTGRES_PASSWORD": "Sh0rt-pw"}, "POSTGRES_PASSWORD is shorter than 12 characters"),
    "node-replication-default": ("node", {"POSTGRES_PASSWORD": it.strong_password(), "PEER_HOST": "db-replica",
                                          "REPLICATION_PASSWORD": "replicator"},
                                 "REPLICATION_PASSWORD is a well-known default password"),
    "provision-default": ("provision", {"POSTGRES_PASSWORD": "postgres"},
                          "POSTGRES_PASSWORD is a well-known default password"),
}


def refused(container: DockerContainer) -> tuple[int, str, float]:
    """Run it without a network, hardened as in compose: (exit code, logs, seconds it ran)."""
    return it.run_to_completion(container.with_kwargs(network_mode="none", **it.HARDENED))


@pytest.mark.integration
@pytest.mark.parametrize("case", list(WEAK_SERVICE_SECRETS))
def test_a_service_refuses_to_start_with_a_weak_database_password(case, tmp_path):
    env, content, message = WEAK_SERVICE_SECRETS[case]
    container = DockerContainer(it.project_image(case.partition("-")[0]), name=it.name(f"weak-{case}"))
    container.with_envs(**SERVICE_ENV, **env).with_tmpfs_mount("/tmp")
    if content is not None:
        (tmp_path / "password").write_text(content)
        (tmp_path / "password").chmod(0o644)
        container.with_volume_mapping(str(tmp_path / "password"), SECRET_FILE, "ro")
    code, output, seconds = refused(container)
    assert code != 0, output
    assert seconds < EXIT_WITHIN_SECONDS, f"took {seconds:.1f}s to give up"
    named = lines_naming(output, "DATABASE_PASSWORD")
    assert len(named) == 1, output
    entry = json.loads(named[0])
    assert entry["level"] == "error" and entry["message"].startswith(f"refusing to start: {message}"), entry
    assert "Traceback" not in output and "Booting worker" not in output


@pytest.mark.integration
@pytest.mark.parametrize("case", list(WEAK_DB_SECRETS))
def test_the_db_image_refuses_to_start_with_a_weak_password(case):
    mode, env, message = WEAK_DB_SECRETS[case]
    container = (DockerContainer(it.project_image("db"), command=[mode], name=it.name(f"weak-db-{case}"))
                 .with_envs(NODE_ROLE="primary", **env)
                 .with_tmpfs_mount("/tmp").with_tmpfs_mount("/var/run/postgresql"))
    code, output, seconds = refused(container)
    assert code != 0, output
    assert seconds < EXIT_WITHIN_SECONDS, f"took {seconds:.1f}s to give up"
    named = lines_naming(output, message.split()[0])
    assert len(named) == 1, output
    assert f"FATAL: {message}" in named[0] and "refusing to start" in named[0], named


# --- no secret in any image -------------------------------------------------------------------------

CHUNK = 1 << 20


def secret_values() -> dict[str, bytes]:
    folder = it.ROOT / "secrets"
    values = {str(path.relative_to(it.ROOT)): path.read_bytes().strip()
              for path in sorted(folder.rglob("*")) if path.is_file()}
    assert values and all(len(value) >= 12 for value in values.values()), "run db/secrets.sh first"
    return values


def _scan_stream(stream, label: str, needles: dict[str, bytes], findings: list[str]) -> None:
    """Search a file's bytes for every needle, chunk by chunk (overlapping by the longest needle)."""
    overlap = max(len(n) for n in needles.values()) - 1
    tail = b""
    while chunk := stream.read(CHUNK):
        window = tail + chunk
        for name, needle in needles.items():
            if needle in window:
                findings.append(f"{label}: contains the value of {name}")
        tail = window[-overlap:]


def _is_tar(stream) -> bool:
    return stream.peek(512)[257:262] == b"ustar"


def scan_image_archive(archive, needles: dict[str, bytes]) -> list[str]:
    """Scan a `docker save` stream: every layer's files (paths and contents), the image config
    (history, env, labels) and the manifest. Layers are found by content (a tar inside the tar),
    so both the classic and the OCI layout of `docker save` work."""
    findings: list[str] = []
    with tarfile.open(fileobj=archive, mode="r|") as outer:
        for member in outer:
            if not member.isfile():
                continue
            stream = outer.extractfile(member)
            if not _is_tar(stream):
                _scan_stream(stream, member.name, needles, findings)
                continue
            with tarfile.open(fileobj=stream, mode="r|") as layer:
                for entry in layer:
                    path = PurePosixPath(entry.name)
                    if "secrets" in path.parts[:-1] or (entry.isdir() and path.name == "secrets"):
                        findings.append(f"{member.name}:/{entry.name} is under a secrets path")
                    if entry.isfile():
                        _scan_stream(layer.extractfile(entry), f"{member.name}:/{entry.name}", needles, findings)
    return findings


@pytest.mark.unit
def test_the_image_scanner_finds_planted_secrets():
    """The scanner itself can fail: a fake `docker save` archive with a secret in a file (across
    a chunk boundary), a file under secrets/, and a secret in the image config."""
    needle = b"k3Qv9-planted-SECRET-zz"

    def tar_of(files: dict[str, bytes], dirs: tuple[str, ...] = ()) -> bytes:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for name in dirs:
                info = tarfile.TarInfo(name)
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            for name, data in files.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        return buffer.getvalue()

    boundary = b"x" * (CHUNK - 5) + needle + b"y" * 10
    layer = tar_of({"usr/lib/big.bin": boundary, "app/secrets/token": b"harmless", "etc/clean": b"ok"},
                   dirs=("run/secrets",))
    archive = tar_of({"abc/layer.tar": layer, "config.json": b'{"Env": ["X=' + needle + b'"]}'})
    findings = scan_image_archive(io.BufferedReader(io.BytesIO(archive)), {"secrets/planted": needle})
    assert sorted(findings) == sorted([
        "abc/layer.tar:/usr/lib/big.bin: contains the value of secrets/planted",
        "abc/layer.tar:/app/secrets/token is under a secrets path",
        "abc/layer.tar:/run/secrets is under a secrets path",
        "config.json: contains the value of secrets/planted",
    ])
    clean = tar_of({"abc/layer.tar": tar_of({"usr/lib/python3/secrets.py": b"import os"})})
    assert scan_image_archive(io.BufferedReader(io.BytesIO(clean)), {"secrets/planted": needle}) == []


@pytest.mark.integration
@pytest.mark.parametrize("image", list(it.IMAGES))
def test_no_secret_in_the_image_history_config_or_files(image):
    tag = it.project_image(image)
    needles = secret_values()
    history = it.docker_cli("history", "--no-trunc", "--format", "{{.CreatedBy}}", tag)
    inspect = it.docker_cli("image", "inspect", tag)
    assert history.returncode == 0 and inspect.returncode == 0, history.stderr + inspect.stderr
    for name, value in needles.items():
        assert value.decode() not in history.stdout, f"{tag}: the value of {name} is in `docker history`"
        assert value.decode() not in inspect.stdout, f"{tag}: the value of {name} is in `docker image inspect`"
    started = time.monotonic()
    save = subprocess.Popen(["docker", "save", tag], stdout=subprocess.PIPE)
    try:
        findings = scan_image_archive(save.stdout, needles)
    finally:
        save.stdout.close()
        save.wait(60)
    assert save.returncode == 0
    print(f"\n[itest] {tag}: filesystem scanned in {time.monotonic() - started:.1f}s")
    assert findings == []


@pytest.mark.unit
def test_the_secrets_folder_is_outside_every_build_context_and_ignored_by_git():
    """A second wall: even a careless COPY could not reach secrets/ (outside every context), and
    services/.dockerignore drops any secrets folder inside the shared context."""
    assert "/secrets/" in (it.ROOT / ".gitignore").read_text().split()
    for context, *_ in it.IMAGES.values():
        assert not (it.ROOT / context / "secrets").exists()
    assert "**/secrets" in (it.ROOT / "services" / ".dockerignore").read_text().split()
