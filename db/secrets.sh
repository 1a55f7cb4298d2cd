#!/usr/bin/env bash
# Generates missing secrets (never overwrites one): secrets/postgres-password,
# secrets/replication-password and secrets/db/<service> for every services/<service>/compose.yaml.
# Usage: db/secrets.sh [ROOT]   (ROOT = repository root, default: the current directory)
#
# Modes: compose bind-mounts file secrets and ignores uid/gid/mode outside Swarm, so the container
# user (postgres, a service user) must be able to read the files: 0644. The protection on the host
# is secrets/ itself (0700). secrets/db/ is 0755 because it is mounted whole (db-provision lists
# it as postgres); it can only be reached through the 0700 secrets/.
set -o errexit -o nounset -o pipefail
root=${1:-.}
[[ -d $root ]] || { echo "secrets.sh: $root is not a directory" >&2; exit 1; }
secrets=$root/secrets
mkdir -p "$secrets/db"
chmod 0700 "$secrets"
chmod 0755 "$secrets/db"

# 24 random bytes -> 32 URL-safe characters (no quoting trouble in URLs, pgpass or YAML).
random_password() { head -c 24 /dev/urandom | base64 | tr '+/' '-_'; }

created=0
ensure() { # FILE
  if [[ -s $1 ]]; then
    chmod 0644 "$1"
    return
  fi
  # Two runs at once (parallel test workers) must neither fail nor replace each other's secret:
  # each writes its own temporary file, and a hard link creates the secret only if it is still
  # missing (atomic: a reader never sees a half-written password; the first run wins).
  local tmp
  tmp=$(umask 077 && mktemp "$1.XXXXXX")
  printf '%s' "$(random_password)" >"$tmp" # no trailing newline
  chmod 0644 "$tmp"
  if ln "$tmp" "$1" 2>/dev/null; then
    echo "created ${1#"$root"/}"
    created=$((created + 1))
  fi
  rm -f "$tmp"
}

ensure "$secrets/postgres-password"
ensure "$secrets/replication-password"
for service in "$root"/services/*/compose.yaml; do
  [[ -f $service ]] || continue
  name=$(basename "$(dirname "$service")")
  if [[ ! $name =~ ^[a-z][a-z0-9_-]{0,62}$ ]]; then
    echo "secrets.sh: skipping services/$name: not a usable database name" >&2
    continue
  fi
  ensure "$secrets/db/$name"
done
echo "secrets: $created created, existing ones kept (in ${secrets#"$root"/}/)"
