#!/usr/bin/env bash
# A private PostgreSQL cluster on loopback for tests and benchmarks (Debian's `postgresql` package).
#   scripts/pg.sh start   initdb (once) and start; prints the connection string for COLLAB_TEST_PG
#   scripts/pg.sh stop    fast shutdown
#   scripts/pg.sh env     prints `export COLLAB_TEST_PG=...` (eval it)
# Settings: COLLAB_PG_DIR (default /tmp/collab-pg), COLLAB_PG_PORT (default 55432).
# initdb refuses to run as root, so as root the cluster belongs to the `postgres` user the package creates.
set -euo pipefail
DIR="${COLLAB_PG_DIR:-/tmp/collab-pg}"
PORT="${COLLAB_PG_PORT:-55432}"
BIN="${COLLAB_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
[ -x "$BIN/pg_ctl" ] || { echo "PostgreSQL binaries not found (apt-get install postgresql)" >&2; exit 1; }
CONN="Host=127.0.0.1;Port=$PORT;Username=postgres;Database=postgres"

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-start}" in
  start)
    if [ ! -s "$DIR/PG_VERSION" ]; then
      mkdir -p "$DIR"
      [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$DIR"
      as_owner "$BIN/initdb" -D "$DIR" -U postgres -A trust -E UTF8 --no-locale >/dev/null
    fi
    if ! as_owner "$BIN/pg_ctl" -D "$DIR" status >/dev/null 2>&1; then
      as_owner "$BIN/pg_ctl" -D "$DIR" -l "$DIR/server.log" -w -t 60 \
        -o "-h 127.0.0.1 -p $PORT -k /tmp -c max_connections=300 -c shared_buffers=128MB" start >/dev/null
    fi
    echo "$CONN"
    ;;
  stop)
    as_owner "$BIN/pg_ctl" -D "$DIR" -m fast -w stop >/dev/null 2>&1 || true
    ;;
  env)
    echo "export COLLAB_TEST_PG='$CONN'"
    ;;
  *)
    echo "usage: $0 start|stop|env" >&2; exit 2
    ;;
esac
