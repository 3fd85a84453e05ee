#!/usr/bin/env bash
# A streaming replica of the local PostgreSQL cluster, built with Debian's own tools, for the
# read-replica tests and the bench's replica_reads workload.
#
#   .ci/replica.sh up      create the replica (if needed), start it, wait until it streams
#   .ci/replica.sh down    stop and drop the replica, remove the primary's replication line
#   .ci/replica.sh stop    stop the replica (kept on disk; the tests' outage)
#   .ci/replica.sh start   start it again and wait until it streams
#   .ci/replica.sh url     print the replica's URL (to a database named by $1, default zyenta_test)
#
# The primary is the cluster listening on PRIMARY_PORT (5432); the replica is a second cluster
# of the same major version, REPLICA_CLUSTER (zyenta_replica) on REPLICA_PORT (5433):
#   1. a `host replication` line for 127.0.0.1 in the primary's pg_hba.conf, and a reload;
#   2. pg_createcluster on the replica port (its own config under /etc/postgresql);
#   3. its data directory replaced by `pg_basebackup -R` of the primary (standby.signal and
#      primary_conninfo written by -R), through a physical replication slot (-C -S) so that the
#      primary keeps the WAL the replica has not received while it is stopped (the tests stop
#      it; without the slot a busy primary recycles that WAL and the replica never catches up);
#   4. pg_ctlcluster start, then wait until pg_stat_wal_receiver says `streaming`.
# Everything runs as root (as CI does); the server's files belong to the postgres user.
set -euo pipefail

PRIMARY_PORT=${PRIMARY_PORT:-5432}
REPLICA_PORT=${REPLICA_PORT:-5433}
REPLICA_CLUSTER=${REPLICA_CLUSTER:-zyenta_replica}
HBA_MARK="# zyenta read replica (.ci/replica.sh)"
SLOT=${REPLICA_CLUSTER}

as_postgres() { runuser -u postgres -- "$@"; }
primary_sql() { psql "postgres://postgres@127.0.0.1:$PRIMARY_PORT/postgres" -qtAc "$1"; }
replica_sql() { psql "postgres://postgres@127.0.0.1:$REPLICA_PORT/postgres" -qtAc "$1"; }

# The major version of the cluster that serves the primary port.
version() {
  pg_lsclusters -h | awk -v port="$PRIMARY_PORT" '$3 == port { print $1; exit }'
}

exists() { pg_lsclusters -h | awk -v name="$REPLICA_CLUSTER" '$2 == name { found = 1 } END { exit !found }'; }

wait_streaming() {
  for _ in $(seq 120); do
    if [ "$(replica_sql "SELECT status FROM pg_stat_wal_receiver" 2>/dev/null || true)" = streaming ]; then
      echo "replica: streaming from 127.0.0.1:$PRIMARY_PORT on 127.0.0.1:$REPLICA_PORT"
      return 0
    fi
    sleep 0.5
  done
  echo "replica: not streaming after 60 s" >&2
  tail -20 "/var/log/postgresql/postgresql-$(version)-$REPLICA_CLUSTER.log" >&2 || true
  return 1
}

allow_replication() {
  local hba
  hba=$(primary_sql "SHOW hba_file")
  if ! grep -qF "$HBA_MARK" "$hba"; then
    # Inserted first: pg_hba.conf is read top down and the first matching line wins.
    local tmp
    tmp=$(mktemp)
    { echo "$HBA_MARK"; echo "host replication postgres 127.0.0.1/32 trust"; cat "$hba"; } >"$tmp"
    cat "$tmp" >"$hba"
    rm -f "$tmp"
    primary_sql "SELECT pg_reload_conf()" >/dev/null
  fi
}

disallow_replication() {
  local hba
  hba=$(primary_sql "SHOW hba_file" 2>/dev/null) || return 0
  if grep -qF "$HBA_MARK" "$hba"; then
    local tmp
    tmp=$(mktemp)
    awk -v mark="$HBA_MARK" '$0 == mark { skip = 2 } skip > 0 { skip--; next } { print }' "$hba" >"$tmp"
    cat "$tmp" >"$hba"
    rm -f "$tmp"
    primary_sql "SELECT pg_reload_conf()" >/dev/null
  fi
}

# The slot keeps WAL on the primary for as long as it exists: dropped with the replica.
drop_slot() {
  primary_sql "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots \
    WHERE slot_name = '$SLOT' AND NOT active" >/dev/null 2>&1 || true
}

up() {
  local v
  v=$(version)
  [ -n "$v" ] || { echo "replica: no PostgreSQL cluster on port $PRIMARY_PORT" >&2; return 1; }
  allow_replication
  if exists && [ -f "/var/lib/postgresql/$v/$REPLICA_CLUSTER/standby.signal" ]; then
    pg_ctlcluster --skip-systemctl-redirect "$v" "$REPLICA_CLUSTER" start >/dev/null 2>&1 || true
    wait_streaming && return 0
    echo "replica: the existing one does not stream; building it again" >&2
  fi
  exists && pg_dropcluster --stop "$v" "$REPLICA_CLUSTER"
  drop_slot
  # Local connections trusted, as on the primary of this machine (CI and development only).
  pg_createcluster "$v" "$REPLICA_CLUSTER" -p "$REPLICA_PORT" -- --auth-local=trust --auth-host=trust >/dev/null
  local data="/var/lib/postgresql/$v/$REPLICA_CLUSTER"
  find "$data" -mindepth 1 -delete
  as_postgres pg_basebackup -D "$data" -R -X stream -c fast -C -S "$SLOT" \
    -d "host=127.0.0.1 port=$PRIMARY_PORT user=postgres application_name=$REPLICA_CLUSTER"
  pg_ctlcluster --skip-systemctl-redirect "$v" "$REPLICA_CLUSTER" start
  wait_streaming
}

down() {
  local v
  v=$(version)
  if [ -n "$v" ] && exists; then
    pg_dropcluster --stop "$v" "$REPLICA_CLUSTER"
    echo "replica: dropped"
  fi
  drop_slot
  disallow_replication
}

stop() { pg_ctlcluster --skip-systemctl-redirect "$(version)" "$REPLICA_CLUSTER" stop -m fast; }

start() {
  pg_ctlcluster --skip-systemctl-redirect "$(version)" "$REPLICA_CLUSTER" start
  wait_streaming
}

url() { echo "postgres://postgres@127.0.0.1:$REPLICA_PORT/${1:-zyenta_test}"; }

case "${1:-}" in
  up | down | stop | start | url)
    cmd=$1
    shift
    "$cmd" "$@"
    ;;
  *)
    echo "usage: $0 up|down|stop|start|url [database]" >&2
    exit 2
    ;;
esac
