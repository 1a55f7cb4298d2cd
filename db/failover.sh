#!/usr/bin/env bash
# Planned (or after-crash) failover between db-primary and db-replica, in either direction:
#   1. find the current primary (the node answering pg_is_in_recovery() = false)
#   2. stop it (fast shutdown: its last WAL, the shutdown checkpoint, reaches the standby first)
#   3. fence its volume (image's `fence` mode): on its next start it rejoins as a standby (pg_rewind)
#   4. promote the standby and wait until it accepts writes
# Afterwards `docker compose up -d` (make up) brings the old primary back as a standby.
# COMPOSE: compose command prefix, e.g. COMPOSE="docker compose -p shop" (default: docker compose).
set -o errexit -o nounset -o pipefail
read -r -a compose <<<"${COMPOSE:-docker compose}"
nodes=(db-primary db-replica)
wait_seconds=${FAILOVER_WAIT_SECONDS:-60}

log() { printf '%s failover: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s%N; }
secs() { local ms=$((($(now) - $1) / 1000000)); printf '%d.%03d' $((ms / 1000)) $((ms % 1000)); }
sql() { "${compose[@]}" exec -T "$1" psql -XAtq -U postgres -d postgres -c "$2" 2>/dev/null; }
# role NODE -> primary | standby | down
role() {
  local r
  r=$(sql "$1" 'select pg_is_in_recovery()') || r=''
  case $r in f) echo primary ;; t) echo standby ;; *) echo down ;; esac
}

t_start=$(now)
declare -A state
for n in "${nodes[@]}"; do state[$n]=$(role "$n"); done
log "current state: db-primary=${state[db-primary]} db-replica=${state[db-replica]}"
old='' new=''
if [[ ${state[db-primary]} == primary && ${state[db-replica]} == primary ]]; then
  die "both nodes are primaries: resolve by hand (stop one, then 'docker compose up -d' rejoins it)"
fi
for n in "${nodes[@]}"; do [[ ${state[$n]} == primary ]] && old=$n; done
for n in "${nodes[@]}"; do [[ ${state[$n]} == standby ]] && new=$n; done
if [[ -z $old ]]; then
  # The primary is down (crashed?): fence the node that is not the running standby.
  [[ -n $new ]] || die "no running standby to promote"
  for n in "${nodes[@]}"; do [[ $n != "$new" ]] && old=$n; done
  log "no running primary: treating $old (down) as the failed primary"
fi
[[ -n $new ]] || die "no running standby to promote ($old is the primary; is the other node up?)"
log "promoting $new, fencing $old"

old_lsn=''
if [[ ${state[$old]} == primary ]]; then
  old_lsn=$(sql "$old" 'select pg_current_wal_lsn()') || true
  t=$(now)
  "${compose[@]}" stop -t 60 "$old"
  log "stopped $old in $(secs "$t")s (last write position before stop: ${old_lsn:-unknown})"
else
  "${compose[@]}" stop -t 60 "$old" >/dev/null 2>&1 || true # keep a restart policy from reviving it
fi

t=$(now)
fence_out=$("${compose[@]}" run --rm --no-deps -T "$old" fence "failover: $new promoted") ||
  die "could not write the fence marker into $old's volume; $new NOT promoted"
log "fenced $old in $(secs "$t")s: $(tr '\n' ' ' <<<"$fence_out")"
cluster_state=$(sed -n 's/^state=//p' <<<"$fence_out")
checkpoint=$(sed -n 's/^checkpoint_lsn=//p' <<<"$fence_out")

if [[ $cluster_state == "shut down" && -n $checkpoint ]]; then
  # Clean stop: wait until the standby has received the shutdown checkpoint (nothing is lost).
  t=$(now)
  until [[ $(sql "$new" "select pg_last_wal_receive_lsn() > '$checkpoint'::pg_lsn") == t ]]; do
    (($(now) - t < wait_seconds * 1000000000)) ||
      die "$new has not received $old's shutdown checkpoint ($checkpoint) after ${wait_seconds}s; not promoting"
    sleep 0.2
  done
  log "$new has all of $old's WAL (shutdown checkpoint $checkpoint): no committed data lost"
else
  log "WARNING: $old was not shut down cleanly (state: ${cluster_state:-unknown}): commits it had not" \
    "shipped to $new yet are lost (asynchronous replication; see db/README.md)"
fi

t=$(now)
[[ $(sql "$new" 'select pg_promote(true, 60)') == t ]] || die "pg_promote() on $new failed"
until sql "$new" 'select txid_current()' >/dev/null && [[ $(role "$new") == primary ]]; do
  (($(now) - t < wait_seconds * 1000000000)) || die "$new did not accept writes within ${wait_seconds}s"
  sleep 0.2
done
log "$new is the primary and accepts writes: promote-to-writable $(secs "$t")s, total $(secs "$t_start")s"
log "next: 'docker compose up -d' (make up) restarts $old; it rejoins as a standby of $new via pg_rewind"
