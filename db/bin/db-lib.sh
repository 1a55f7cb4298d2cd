# shellcheck shell=bash
# Shared helpers for the db image's scripts (sourced, not executed).
# Relies only on what both bases provide: bash, coreutils, the PostgreSQL binaries, user postgres.

: "${PGDATA:=/var/lib/postgresql/data}"
: "${NODE_NAME:=${HOSTNAME:-db}}"
: "${PGPORT:=5432}"
# Runtime files (passfile, temp socket) live on tmpfs: recreated on every start, never in PGDATA.
RUN_DIR=${DB_RUNTIME_DIR:-/tmp/db-node}
PASSFILE=$RUN_DIR/pgpass
# shellcheck disable=SC2034 # used by the scripts that source this file
FENCE_FILE=$PGDATA/db-node.fence
export PGDATA PGPORT

log() { printf '%s %s[%s]: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" "${LOG_TAG:-db}" "$NODE_NAME" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }

# read_secret NAME -> value of NAME_FILE (wins) or NAME; trailing newlines dropped.
read_secret() {
  local name=$1 file_var="${1}_FILE"
  if [[ -n ${!file_var:-} ]]; then
    [[ -r ${!file_var} ]] || die "$file_var=${!file_var} is not a readable file"
    printf '%s' "$(<"${!file_var}")"
  else
    printf '%s' "${!name:-}"
  fi
}

# password_problem VALUE: prints why VALUE is unusable (empty, well-known, < 12 chars), or nothing.
password_problem() {
  local value=$1
  if [[ -z $value ]]; then echo "is empty"; return; fi
  case ${value,,} in
    postgres | password | passw0rd | changeme | change-me | change_me | secret | example | admin | \
      administrator | test | testing | root | default | letmein | qwerty | 123456* | replicator | \
      postgrespassword | mysecretpassword | password123 | changeit)
      echo "is a well-known default password"; return ;;
  esac
  ((${#value} >= 12)) || echo "is shorter than 12 characters"
}

# check_password LABEL VALUE: one clear log line and exit 1 on an unusable password.
check_password() {
  local problem
  problem=$(password_problem "$2")
  [[ -z $problem ]] || die "$1 $problem (set ${1}_FILE to a file with a strong password); refusing to start"
}

# pgpass lines need ':' and '\' escaped.
pgpass_escape() { local s=${1//\\/\\\\}; printf '%s' "${s//:/\\:}"; }

# write_passfile USER=PASSWORD...: a fresh 0600 passfile on tmpfs, so no password sits in env
# values, command lines or PGDATA (primary_conninfo only names the file).
write_passfile() {
  local pair
  install -d -m 0700 "$RUN_DIR"
  : >"$PASSFILE.new" && chmod 0600 "$PASSFILE.new"
  for pair in "$@"; do
    [[ -n ${pair#*=} ]] || continue
    printf '*:*:*:%s:%s\n' "$(pgpass_escape "${pair%%=*}")" "$(pgpass_escape "${pair#*=}")" >>"$PASSFILE.new"
  done
  mv -f "$PASSFILE.new" "$PASSFILE"
}

# Replication slot name from NODE_NAME: slot names allow only [a-z0-9_].
slot_name() { local s=${NODE_NAME,,}; s=${s//[^a-z0-9_]/_}; printf '%s' "${s:0:63}"; }
