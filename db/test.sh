#!/usr/bin/env bash
# End-to-end check of the data tier, standalone (db/compose.yaml only), in a throwaway copy:
# replication, health, failover + rejoin both ways, crash failover with a real pg_rewind,
# provisioning (idempotent, new service, rotation, isolation), memory sizing, hardening.
# Usage: POSTGRES_BASE=airgap/postgres:17-trixie db/test.sh   (project/image prefix: TEST_PROJECT)
# Removes its containers, volumes, network and image at the end.
# shellcheck disable=SC2015 # "cond && ok || fail": ok never fails
set -o errexit -o nounset -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
project=${TEST_PROJECT:-dbtest}
root=$(mktemp -d "/tmp/$project.XXXXXX")
export IMAGE_PREFIX=$project IMAGE_TAG=test POSTGRES_BASE=${POSTGRES_BASE:-postgres:17-trixie}
image=$IMAGE_PREFIX/db:$IMAGE_TAG
read -r -a compose <<<"docker compose -f $root/db/compose.yaml -p $project"
export COMPOSE="${compose[*]}"

cleanup() {
  "${compose[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
  docker image rm "$image" >/dev/null 2>&1 || true
  rm -rf "$root"
}
trap cleanup EXIT
step() { printf '\n== %s\n' "$*"; }
ok() { printf '   ok: %s\n' "$*"; }
fail() { printf '   FAIL: %s\n' "$*"; exit 1; }
now() { date +%s%N; }
secs() { local ms=$((($(now) - $1) / 1000000)); printf '%d.%03d' $((ms / 1000)) $((ms % 1000)); }
sql() { "${compose[@]}" exec -T "$1" psql -XAtq -U postgres -d postgres -c "$2"; }
up() { "${compose[@]}" up -d --wait >/dev/null 2>&1 || true; } # --wait reports the exited one-shot
healthy() { [[ $(docker inspect "$project-$1-1" --format '{{.State.Health.Status}}') == healthy ]]; }
# login USER PASSWORD DB: connect like a service does, from another container on the data network
login() {
  docker run --rm --network "${project}_data" -e PGPASSWORD="$2" -e PGCONNECT_TIMEOUT=3 "$image" \
    psql "host=db-primary,db-replica target_session_attrs=read-write user=$1 dbname=$3" -XAtqc 'select 1' >/dev/null 2>&1
}

step "setup: copy of db/, fake services users + orders, secrets"
cp -a "$here" "$root/db"
mkdir -p "$root/services/users" "$root/services/orders"
touch "$root/services/users/Dockerfile" "$root/services/orders/Dockerfile"
"$root/db/secrets.sh" "$root"
[[ $("$root/db/secrets.sh" "$root" | tail -1) == "secrets: 0 created"* ]] && ok "secrets.sh is idempotent" || fail "secrets.sh is idempotent"
[[ $(stat -c %a "$root/secrets") == 700 && $(stat -c %a "$root/secrets/db/users") == 644 ]] && ok "modes 0700 dir / 0644 files" || fail "modes 0700 dir / 0644 files"
hadolint "$here/Dockerfile" && ok "hadolint clean" || fail "hadolint clean"
"${compose[@]}" config -q && ok "compose config -q clean" || fail "compose config -q clean"
t=$(now)
"${compose[@]}" build --quiet
echo "   image built in $(secs "$t")s: $(docker image inspect "$image" --format '{{.Size}}') bytes (base $POSTGRES_BASE: $(docker image inspect "$POSTGRES_BASE" --format '{{.Size}}') bytes)"

step "first start: initdb on db-primary, pg_basebackup on db-replica, provisioning"
t=$(now)
up
healthy db-primary && healthy db-replica || fail "nodes not healthy"
echo "   both nodes healthy + provisioned in $(secs "$t")s"
"${compose[@]}" logs db-primary db-replica 2>&1 | grep -E 'initialised in|base backup done' | sed 's/^/   /'

step "replication"
sql db-primary "create table t(id int primary key, note text); insert into t values (1, 'on primary')"
sleep 1
[[ $(sql db-replica "select note from t where id = 1") == "on primary" ]] && ok "write on primary visible on replica" || fail "write on primary visible on replica"
{ sql db-replica "insert into t values (2, 'x')" || true; } 2>&1 | grep -q 'read-only transaction' && ok "replica rejects writes" || fail "replica rejects writes"
[[ $(sql db-primary "select slot_name || ':' || active from pg_replication_slots") == "db_replica:true" ]] && ok "slot db_replica active on primary" || fail "slot db_replica active on primary"
[[ $(sql db-primary "select sync_state from pg_stat_replication") == async ]] && ok "asynchronous streaming" || fail "asynchronous streaming"

step "standby unhealthy while its primary is stopped"
"${compose[@]}" stop db-primary >/dev/null 2>&1
out=$("${compose[@]}" exec -T db-replica db-healthcheck) && fail "replica healthy without primary"
ok "replica healthcheck: $out"
"${compose[@]}" start db-primary >/dev/null 2>&1
up

for direction in "db-primary -> db-replica" "db-replica -> db-primary"; do
  step "failover $direction, then 'up -d' rejoins the old primary"
  old=${direction%% *} new=${direction##* }
  sql "$old" "insert into t values (nextval('s'), 'before failover')" 2>/dev/null ||
    sql "$old" "create sequence s start 10; insert into t values (nextval('s'), 'before failover')"
  "$root/db/failover.sh" 2>&1 | grep -E 'stopped|fenced|no committed|writable' | sed 's/^/   /'
  [[ $(sql "$new" 'select pg_is_in_recovery()') == f ]] && ok "$new is primary" || fail "$new is primary"
  sql "$new" "insert into t values (nextval('s'), 'after failover')"
  t=$(now)
  up
  healthy "$old" || fail "$old did not rejoin"
  echo "   $old rejoined (up -d -> healthy standby) in $(secs "$t")s"
  "${compose[@]}" logs "$old" 2>&1 | grep -E 'pg_rewind: (no rewind|Done)|rewind done' | tail -2 | sed 's/^/   /'
  sleep 1
  [[ $(sql "$old" 'select count(*) from t') == "$(sql "$new" 'select count(*) from t')" ]] && ok "same rows on both" || fail "same rows on both"
done

step "crash failover: unshipped commits on the old primary, real pg_rewind"
"${compose[@]}" stop db-replica >/dev/null 2>&1
sql db-primary "insert into t select g, 'unshipped' from generate_series(1000, 2000) g"
docker kill -s KILL "$project-db-primary-1" >/dev/null
"${compose[@]}" start db-replica >/dev/null 2>&1
sleep 3
"$root/db/failover.sh" 2>&1 | grep -E 'WARNING|writable' | sed 's/^/   /'
t=$(now)
up
healthy db-primary || fail "db-primary did not rejoin after crash"
echo "   db-primary rewound and streaming in $(secs "$t")s"
"${compose[@]}" logs db-primary 2>&1 | grep -E 'crash recovery first|pg_rewind: (servers diverged|Done)' | tail -3 | sed 's/^/   /'
[[ $(sql db-primary "select count(*) from t where note = 'unshipped'") == 0 ]] && ok "diverged commits rewound away" || fail "diverged commits rewound away"

step "provisioning: idempotent, new service on the existing volume, rotation, isolation"
up
"${compose[@]}" logs db-provision 2>&1 | grep -c 'done on primary' | xargs printf '   provision runs so far: %s\n'
"${compose[@]}" logs db-provision 2>&1 | grep "service 'users'" | tail -1 | sed 's/^.*]: /   /'
mkdir -p "$root/services/payment-gateway" && touch "$root/services/payment-gateway/Dockerfile"
"$root/db/secrets.sh" "$root" | sed 's/^/   /'
up
"${compose[@]}" logs db-provision 2>&1 | grep -E "payment-gateway|done on" | tail -2 | sed 's/^.*]: /   /'
users=$(<"$root/secrets/db/users")
login users "$users" users && ok "users -> database users" || fail "users -> database users"
login users "$users" orders && fail "users reached orders" || ok "users -> orders refused"
login users "$users" postgres && fail "users reached postgres" || ok "users -> postgres refused"
login payment_gateway "$(<"$root/secrets/db/payment-gateway")" payment_gateway && ok "payment_gateway -> its database" || fail "payment_gateway -> its database"
printf '%s' 'rotated-users-password-0123' >"$root/secrets/db/users"
up
login users rotated-users-password-0123 users && ! login users "$users" users && ok "rotation: new password in, old out" || fail "rotation: new password in, old out"

step "hardening and sizing"
docker inspect "$project-db-primary-1" --format \
  '   user={{.Config.User}} read_only={{.HostConfig.ReadonlyRootfs}} cap_drop={{.HostConfig.CapDrop}} memory={{.HostConfig.Memory}}'
"${compose[@]}" exec -T db-primary sh -c 'touch /usr/x 2>/dev/null' && fail "rootfs writable" || ok "rootfs read-only"
[[ $("${compose[@]}" exec -T db-primary cat /proc/1/comm) == postgres ]] && ok "PID 1 is postgres" || fail "PID 1 is postgres"
[[ $(sql db-primary 'show shared_buffers') == 128MB ]] && ok "512M limit -> shared_buffers 128MB" || fail "512M limit -> shared_buffers 128MB"
for m in 256m 2g; do
  docker run --rm -m "$m" -e POSTGRES_PASSWORD=only-for-the-sizing-check --entrypoint bash "$image" \
    -c 'timeout 5 db-node 2>&1 | grep -o "memory: .*"' | sed "s/^/   -m $m: /" || true
done
{ docker run --rm -e POSTGRES_PASSWORD=changeme "$image" || true; } 2>&1 | grep -o 'FATAL.*' | sed 's/^/   /'

step "all checks passed"
