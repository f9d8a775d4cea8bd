#!/usr/bin/env bash
# PostgreSQL + Redis on loopback for CI and local tests, without systemd. Idempotent.
#
#   bash .ci/services.sh start    # reuse running servers; else start them; else install + start
#   bash .ci/services.sh stop     # stop both, with their own commands
#   bash .ci/services.sh status   # exit 0 only when both answer
#
# PostgreSQL: 127.0.0.1:$PGPORT, user `postgres`, trust auth on loopback (the machine's setup).
#   1. a server already answering pg_isready is used as it is;
#   2. else the Debian cluster is started (pg_ctlcluster --skip-systemctl-redirect VER main start);
#      a missing cluster is created first (pg_createcluster) and configured as in 3;
#   3. else (no PostgreSQL at all) Debian's package is installed, its cluster is configured for
#      loopback trust auth and test-only speed settings, and started.
# Redis: 127.0.0.1:$REDIS_PORT, nothing kept on disk; installed from Debian when missing.
# PostgreSQL refuses to run as root: its commands run as `postgres` (pg_ctlcluster switches
# user itself; everything else goes through `runuser -u postgres --`).
#
# Environment (defaults shown):
#   PGPORT=5432 PG_CLUSTER_NAME=main REDIS_PORT=6379 SVC_DIR=/var/tmp/keel-services
set -euo pipefail

PGPORT=${PGPORT:-5432}
PG_CLUSTER_NAME=${PG_CLUSTER_NAME:-main}
REDIS_PORT=${REDIS_PORT:-6379}
SVC_DIR=${SVC_DIR:-/var/tmp/keel-services}
PGSOCK=/var/run/postgresql
export DEBIAN_FRONTEND=noninteractive

log() { echo "services: $*"; }
die() { echo "services: ERROR: $*" >&2; exit 1; }

apt_install() {
  # Install Debian packages; refresh the package lists first (a new machine may have none).
  [ "$(id -u)" = 0 ] || die "installing $* needs root"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Run as the postgres user from a directory it can read (avoids "could not change directory").
as_pg() { (cd / && runuser -u postgres -- "$@"); }

pg_up() { pg_isready -q -h 127.0.0.1 -p "$PGPORT" 2>/dev/null; }
redis_up() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

pg_version() { # the newest version that has our cluster, else the newest installed
  local v
  for v in $(ls /etc/postgresql 2>/dev/null | sort -rV); do
    [ -f "/etc/postgresql/$v/$PG_CLUSTER_NAME/postgresql.conf" ] && { echo "$v"; return; }
  done
  pg_bin_version
}
pg_bin_version() { ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -1; }

wait_for() { # wait_for SECONDS COMMAND...
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

configure_new_cluster() {
  # Only for a cluster this script created: loopback trust auth (CI only, like the machine's
  # own setup) and durability switched off for speed (test data only).
  local ver=$1 conf=/etc/postgresql/$1/$PG_CLUSTER_NAME
  local hba=$conf/pg_hba.conf
  if ! grep -q '# keel-ci' "$hba"; then
    {
      echo "# keel-ci: loopback trust for CI and tests"
      echo "host all all 127.0.0.1/32 trust"
      echo "host all all ::1/128 trust"
      cat "$hba"
    } >"$hba.new"
    chown postgres:postgres "$hba.new"
    mv "$hba.new" "$hba"
  fi
  install -d -o postgres -g postgres "$conf/conf.d"
  cat >"$conf/conf.d/keel-ci.conf" <<EOF
# keel-ci: test-only settings, do not use for real data
port = $PGPORT
listen_addresses = '127.0.0.1'
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  chown postgres:postgres "$conf/conf.d/keel-ci.conf"
  log "postgres: configured cluster $ver/$PG_CLUSTER_NAME for loopback trust auth"
}

start_pg() {
  if pg_up; then
    log "postgres: already answering on 127.0.0.1:$PGPORT; using it"
    return 0
  fi
  local created=0 ver
  if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ -z "$(pg_bin_version)" ]; then
    log "postgres: not installed; installing Debian's postgresql"
    apt_install postgresql postgresql-client
    created=1
  fi
  ver=$(pg_version)
  [ -n "$ver" ] || die "no PostgreSQL version found under /usr/lib/postgresql"
  if [ ! -f "/etc/postgresql/$ver/$PG_CLUSTER_NAME/postgresql.conf" ]; then
    log "postgres: creating cluster $ver/$PG_CLUSTER_NAME"
    pg_createcluster -p "$PGPORT" "$ver" "$PG_CLUSTER_NAME" >/dev/null
    created=1
  fi
  [ "$created" = 1 ] && configure_new_cluster "$ver"
  install -d -o postgres -g postgres -m 2775 "$PGSOCK"
  log "postgres: starting cluster $ver/$PG_CLUSTER_NAME"
  pg_ctlcluster --skip-systemctl-redirect "$ver" "$PG_CLUSTER_NAME" start ||
    die "pg_ctlcluster failed; see /var/log/postgresql/postgresql-$ver-$PG_CLUSTER_NAME.log"
  wait_for 60 pg_up || die "PostgreSQL did not answer on 127.0.0.1:$PGPORT within 60 s"
  log "postgres: running on 127.0.0.1:$PGPORT"
}

check_pg_login() {
  # CI connects as `postgres` over TCP without a password (trust auth).
  if ! psql -qtA -w -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -c 'select 1' >/dev/null; then
    die "PostgreSQL answers but 'postgres' cannot sign in over 127.0.0.1 without a password
    (pg_hba.conf needs 'host all all 127.0.0.1/32 trust' for CI)"
  fi
}

start_redis() {
  if redis_up; then
    log "redis: already answering on 127.0.0.1:$REDIS_PORT; using it"
    return 0
  fi
  if ! command -v redis-server >/dev/null 2>&1; then
    log "redis: not installed; installing Debian's redis-server"
    apt_install redis-server redis-tools
  fi
  install -d -m 0755 "$SVC_DIR"
  # The machine's own command, plus a log and pid file in SVC_DIR. `-::1`: IPv6 if available.
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" \
    --appendonly no --dir "$SVC_DIR" --logfile "$SVC_DIR/redis.log" --pidfile "$SVC_DIR/redis.pid"
  wait_for 10 redis_up || die "Redis did not answer on 127.0.0.1:$REDIS_PORT (log: $SVC_DIR/redis.log)"
  log "redis: running on 127.0.0.1:$REDIS_PORT"
}

stop_all() {
  local ver; ver=$(pg_version)
  if [ -f "/etc/postgresql/$ver/$PG_CLUSTER_NAME/postgresql.conf" ] && pg_up; then
    pg_ctlcluster --skip-systemctl-redirect "$ver" "$PG_CLUSTER_NAME" stop -m fast && log "postgres: stopped"
  else
    log "postgres: not running (or not a Debian cluster)"
  fi
  if redis_up; then
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    log "redis: stopped"
  else
    log "redis: not running"
  fi
}

status() {
  local rc=0
  if pg_up; then log "postgres: up on 127.0.0.1:$PGPORT"; else log "postgres: down"; rc=1; fi
  if redis_up; then log "redis: up on 127.0.0.1:$REDIS_PORT"; else log "redis: down"; rc=1; fi
  return "$rc"
}

case "${1:-start}" in
  start) start_pg; check_pg_login; start_redis ;;
  stop) stop_all ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
