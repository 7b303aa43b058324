#!/usr/bin/env bash
# A local CollabAkka cluster on loopback: a private PostgreSQL (the shared store), N node processes and a private
# nginx in front of them (WebSocket upgrade, long timeouts, least_conn, passive health). See deploy/README.md.
#
#   deploy/local-cluster.sh up              build what is missing, start everything, wait until every node is Up
#                                           in the cluster, print the status JSON
#   deploy/local-cluster.sh down            stop everything (idempotent; leaves no processes)
#   deploy/local-cluster.sh kill N          kill -9 node N
#   deploy/local-cluster.sh pause N         SIGSTOP node N
#   deploy/local-cluster.sh resume N        SIGCONT node N
#   deploy/local-cluster.sh restart N       SIGTERM node N, wait for it to exit, start it again (same id, ports, data)
#                                           and wait until it is Up again
#   deploy/local-cluster.sh status [--json] one line per node, or {"lb": URL, "nodes": [{"n", "url", "pid", "state"}]}
#
# Settings (environment; `up` records them in the state dir, later commands read them from there):
#   NODES=3            number of nodes (n1..nN)
#   STATE_DIR=./.local-cluster   pids, ports, logs, node data, the PostgreSQL cluster, nginx's prefix
#   HTTP_PORT=5101     node i listens on http://127.0.0.1:(HTTP_PORT+i-1)
#   AKKA_PORT=4051     node i's Akka remoting port is AKKA_PORT+i-1; nodes 1 and 2 are the seed nodes
#   LB_PORT=8088       nginx on http://127.0.0.1:LB_PORT
#   PG_PORT=55433      the private PostgreSQL (not the tests' 55432)
#   UP_TIMEOUT=120     seconds `up` and `restart` wait for the nodes
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DLL="$ROOT/src/Node/bin/Release/net10.0/CollabAkka.Node.dll"
STATE_DIR="${STATE_DIR:-./.local-cluster}"
mkdir -p "$STATE_DIR"
STATE="$(cd "$STATE_DIR" && pwd)"
CONF="$STATE/cluster.env"

# Settings: on `up` the environment wins over the ones recorded by the last `up`; on every other command the
# recorded ones win (so `kill 2` acts on the cluster that is running).
SETTINGS=(NODES HTTP_PORT AKKA_PORT LB_PORT PG_PORT)
declare -A FROM_ENV=()
for v in "${SETTINGS[@]}"; do FROM_ENV[$v]="${!v:-}"; done
if [ -f "$CONF" ]; then
  # shellcheck disable=SC1090
  . "$CONF"
fi
if [ "${1:-}" = up ]; then
  for v in "${SETTINGS[@]}"; do [ -n "${FROM_ENV[$v]}" ] && printf -v "$v" '%s' "${FROM_ENV[$v]}"; done
fi
NODES="${NODES:-3}"
HTTP_PORT="${HTTP_PORT:-5101}"
AKKA_PORT="${AKKA_PORT:-4051}"
LB_PORT="${LB_PORT:-8088}"
PG_PORT="${PG_PORT:-55433}"
UP_TIMEOUT="${UP_TIMEOUT:-120}"
SCHEMA="collab_local"
PG_CONN="Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=postgres"
LB_URL="http://127.0.0.1:$LB_PORT"

log() { echo "local-cluster: $*" >&2; }
die() { log "$*"; exit 1; }
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"

node_url() { echo "http://127.0.0.1:$((HTTP_PORT + $1 - 1))"; }
node_dir() { echo "$STATE/nodes/n$1"; }
seed() { echo "akka.tcp://collab@127.0.0.1:$((AKKA_PORT + $1 - 1))"; }

check_n() {
  [[ "${1:-}" =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ] && [ "$1" -le "$NODES" ] || die "node number 1..$NODES expected, got '${1:-}'"
}

# The pid of node N if that process is alive and still our node (a recycled pid is not), else nothing.
node_pid() { pid_in "$(node_dir "$1")/pid"; }
pid_in() {
  local f=$1 pid
  [ -f "$f" ] || return 0
  pid="$(cat "$f")"
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 0
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "CollabAkka.Node.dll" || return 0
  [ "$(proc_state "$pid")" = "Z" ] && return 0
  echo "$pid"
}

# One-letter process state from /proc/PID/stat (R, S, D, T = stopped, Z ...); the name may contain spaces.
proc_state() { sed -E 's/^.*\) ([A-Za-z]).*$/\1/' "/proc/$1/stat" 2>/dev/null || true; }

node_state() {
  local pid; pid="$(node_pid "$1")"
  if [ -z "$pid" ]; then echo down
  elif [[ "$(proc_state "$pid")" == [Tt] ]]; then echo paused
  else echo up
  fi
}

status_json() {
  local i pid sep=""
  printf '{"lb": "%s", "nodes": [' "$LB_URL"
  for i in $(seq 1 "$NODES"); do
    pid="$(node_pid "$i")"
    printf '%s{"n": %d, "url": "%s", "pid": %s, "state": "%s"}' "$sep" "$i" "$(node_url "$i")" "${pid:-null}" "$(node_state "$i")"
    sep=", "
  done
  printf ']}\n'
}

status_text() {
  local i
  echo "lb   $LB_URL  nginx $( [ -n "$(nginx_pid)" ] && echo up || echo down)  postgres 127.0.0.1:$PG_PORT $(pg_state)"
  for i in $(seq 1 "$NODES"); do
    printf 'n%-3s %s  pid %-8s %s\n' "$i" "$(node_url "$i")" "$(node_pid "$i")" "$(node_state "$i")"
  done
}

# ---- prerequisites: packages and build (only what is missing) -----------------------------------------------
ensure_packages() {
  local need=()
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
  ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || need+=(postgresql)
  command -v curl >/dev/null || need+=(curl)
  command -v python3 >/dev/null || need+=(python3)
  if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # policy-rc.d keeps the packages from starting their system services: we run private instances only.
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
  fi
  command -v dotnet >/dev/null || die "the .NET 10 SDK is required (dotnet not found)"
  command -v node >/dev/null || die "Node.js 20+ is required (node not found)"
}

ensure_build() {
  if [ ! -f "$ROOT/src/Widget/dist/collab-sdk.js" ] || [ ! -f "$DLL" ]; then
    ( cd "$ROOT"
      [ -d node_modules ] || npm ci --no-audit --no-fund >/dev/null
      log "building the widget and the node (first run)"
      node src/Widget/build.mjs >/dev/null
      dotnet build CollabAkka.sln -c Release -nologo -v quiet >/dev/null ) || die "build failed"
  fi
}

# ---- PostgreSQL: scripts/pg.sh with our own directory and port ----------------------------------------------
pg() { COLLAB_PG_DIR="$STATE/pg" COLLAB_PG_PORT="$PG_PORT" bash "$ROOT/scripts/pg.sh" "$@"; }
pg_state() { [ -f "$STATE/pg/postmaster.pid" ] && kill -0 "$(head -1 "$STATE/pg/postmaster.pid")" 2>/dev/null && echo up || echo down; }
pg_up() {
  if [ "$(id -u)" -eq 0 ]; then
    # As root the cluster belongs to `postgres` (initdb refuses root): it must reach the directory.
    local d="$STATE"
    while [ "$d" != "/" ]; do
      runuser -u postgres -- test -x "$d" || chmod o+x "$d"
      d="$(dirname "$d")"
    done
  fi
  pg start >/dev/null || die "PostgreSQL did not start (see $STATE/pg/server.log)"
}

# ---- nginx: a private instance (own prefix, config, pid, logs) on loopback --------------------------------
NGINX_BIN="$(command -v nginx || echo /usr/sbin/nginx)"
NGX="$STATE/nginx"
nginx_pid() {
  local pid
  [ -f "$NGX/nginx.pid" ] || return 0
  pid="$(cat "$NGX/nginx.pid" 2>/dev/null)"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid" || true
}
nginx_config() {
  local i servers=""
  mkdir -p "$NGX/logs" "$NGX/tmp"
  for i in $(seq 1 "$NODES"); do
    servers+="    server 127.0.0.1:$((HTTP_PORT + i - 1)) max_fails=1 fail_timeout=5s;"$'\n'
  done
  # The site configuration (deploy/nginx/collab.conf.template) with our upstreams and port...
  python3 - "$ROOT/deploy/nginx/collab.conf.template" "$NGX/collab.conf" "$servers" "127.0.0.1:$LB_PORT" <<'PY'
import sys
src, dst, servers, listen = sys.argv[1:5]
text = open(src).read().replace("@UPSTREAM_SERVERS@\n", servers).replace("@LISTEN@", listen)
open(dst, "w").write(text)
PY
  # ...inside a main configuration of our own (the system's /etc/nginx is never read or touched).
  local user_line=""
  if [ "$(id -u)" -eq 0 ]; then user_line="user nobody nogroup;"; chown -R nobody:nogroup "$NGX/tmp"; fi
  sed -e "s|@PREFIX@|$NGX|g" -e "s|@USER@|$user_line|" "$ROOT/deploy/nginx/nginx-local.conf.template" >"$NGX/nginx.conf"
}
nginx_up() {
  nginx_config
  "$NGINX_BIN" -p "$NGX" -c "$NGX/nginx.conf" -e "$NGX/logs/error.log" -t -q || die "nginx configuration invalid ($NGX/nginx.conf)"
  if [ -n "$(nginx_pid)" ]; then
    "$NGINX_BIN" -p "$NGX" -c "$NGX/nginx.conf" -e "$NGX/logs/error.log" -s reload
  else
    "$NGINX_BIN" -p "$NGX" -c "$NGX/nginx.conf" -e "$NGX/logs/error.log"
  fi
}
nginx_down() {
  local pid; pid="$(nginx_pid)"
  [ -n "$pid" ] || return 0
  kill -QUIT "$pid" 2>/dev/null || true
  wait_gone "$pid" 10 || kill -9 "$pid" 2>/dev/null || true
  rm -f "$NGX/nginx.pid"
}

# ---- nodes -------------------------------------------------------------------------------------------------
start_node() {
  local n=$1 dir; dir="$(node_dir "$n")"
  [ -n "$(node_pid "$n")" ] && return 0
  mkdir -p "$dir/data"
  # One dev signing key file for all nodes (Auth:DevSigningKeyFile; the first node to start creates it): a dev token
  # minted by one node behind nginx is accepted by the others.
  local args=(
    --urls "$(node_url "$n")"
    --Collab:NodeId="n$n"
    --Collab:DataDir="$dir/data"
    --Auth:DevSigningKeyFile="$STATE/dev-signing-key.pem"
    --Collab:Profile=embedded
    --Collab:ResourcesFile="$ROOT/config/resources.yml"
    --Collab:WidgetDir="$ROOT/src/Widget/dist"
    --Collab:Store=postgres
    "--ConnectionStrings:Collab=$PG_CONN"
    --Collab:Postgres:Schema="$SCHEMA"
    --Collab:Cluster:Hostname=127.0.0.1
    --Collab:Cluster:Port="$((AKKA_PORT + n - 1))"
    --Collab:Cluster:SeedNodes:0="$(seed 1)"
    --Collab:ConsoleLogs=false
  )
  [ "$NODES" -ge 2 ] && args+=(--Collab:Cluster:SeedNodes:1="$(seed 2)")
  # setsid: its own session, so the node outlives this script and no terminal signal reaches it. setsid execs
  # (this background child is no group leader), so $! is the node's pid.
  ( cd "$ROOT" && exec setsid dotnet "$DLL" "${args[@]}" </dev/null >>"$dir/stdout.log" 2>&1 ) &
  echo $! >"$dir/pid"
}

wait_gone() { # wait_gone PID SECONDS
  local deadline=$((SECONDS + $2))
  while kill -0 "$1" 2>/dev/null && [ "$(proc_state "$1")" != "Z" ]; do
    [ $SECONDS -ge $deadline ] && return 1
    sleep 0.2
  done
}

stop_node() { # stop_node N: SIGTERM (graceful leave), wait; kill -9 only past the deadline
  local n=$1 pid; pid="$(node_pid "$n")"
  [ -n "$pid" ] || return 0
  kill -CONT "$pid" 2>/dev/null || true   # a paused node cannot handle SIGTERM
  kill -TERM "$pid" 2>/dev/null || true
  wait_gone "$pid" 60 || { log "n$n did not stop within 60 s: kill -9"; kill -9 "$pid" 2>/dev/null || true; wait_gone "$pid" 10 || true; }
  rm -f "$(node_dir "$n")/pid"
}

# Ready: /ready answers 200 on each running node and, where /cluster/members exists, each of them sees every
# running (not paused) node Up and reachable. Before /cluster/members is on main, /ready alone decides.
cluster_ready() {
  local i expected=0 urls=()
  for i in $(seq 1 "$NODES"); do
    [ "$(node_state "$i")" = up ] && { expected=$((expected + 1)); urls+=("$(node_url "$i")"); }
  done
  for url in "${urls[@]}"; do
    curl -sf -m 3 -o /dev/null "$url/ready" || return 1
    local body code
    body="$(curl -s -m 3 -w '\n%{http_code}' "$url/cluster/members" || true)"
    code="${body##*$'\n'}"
    [ "$code" = 404 ] && continue
    [ "$code" = 200 ] || return 1
    python3 - "$expected" "${body%$'\n'*}" <<'PY' || return 1
import json, sys
want, doc = int(sys.argv[1]), json.loads(sys.argv[2])
up = [m for m in doc.get("members", []) if m.get("status") == "Up" and m.get("reachable", True)]
sys.exit(0 if len(up) == want else 1)
PY
  done
}

wait_ready() {
  local deadline=$((SECONDS + UP_TIMEOUT)) i
  until cluster_ready; do
    for i in $(seq 1 "$NODES"); do
      if [ "$(node_state "$i")" = down ] && [ "${1:-all}" = all -o "${1:-}" = "$i" ]; then
        log "n$i exited; last lines of its log:"; tail -20 "$(node_dir "$i")/stdout.log" >&2 || true
        return 1
      fi
    done
    [ $SECONDS -ge $deadline ] && { log "not every node is Up after ${UP_TIMEOUT}s"; status_text >&2; return 1; }
    sleep 0.5
  done
}

cmd_up() {
  ensure_packages
  ensure_build
  cat >"$CONF" <<EOF
NODES=$NODES
HTTP_PORT=$HTTP_PORT
AKKA_PORT=$AKKA_PORT
LB_PORT=$LB_PORT
PG_PORT=$PG_PORT
EOF
  pg_up
  local i
  for i in $(seq 1 "$NODES"); do start_node "$i"; done
  nginx_up
  wait_ready all || exit 1
  status_json
}

cmd_down() {
  local i
  if [ -d "$STATE/nodes" ]; then
    for i in $(seq 1 "$NODES"); do stop_node "$i" & done
    wait
    # Nodes beyond NODES from an earlier, larger `up`.
    for f in "$STATE"/nodes/n*/pid; do
      [ -f "$f" ] || continue
      pid="$(pid_in "$f")"
      if [ -n "$pid" ]; then
        kill -CONT "$pid" 2>/dev/null || true; kill -TERM "$pid" 2>/dev/null || true
        wait_gone "$pid" 60 || kill -9 "$pid" 2>/dev/null || true
      fi
      rm -f "$f"
    done
  fi
  nginx_down
  [ -f "$STATE/pg/PG_VERSION" ] && pg stop
  return 0
}

cmd="${1:-}"; shift || true
case "$cmd" in
  up) cmd_up ;;
  down) cmd_down ;;
  kill) check_n "${1:-}"; pid="$(node_pid "$1")"; [ -n "$pid" ] && kill -9 "$pid" && wait_gone "$pid" 10; status_json ;;
  pause) check_n "${1:-}"; pid="$(node_pid "$1")"; [ -n "$pid" ] || die "n$1 is not running"; kill -STOP "$pid"
    until [[ "$(proc_state "$pid")" == [Tt] ]]; do sleep 0.05; done; status_json ;;
  resume) check_n "${1:-}"; pid="$(node_pid "$1")"; [ -n "$pid" ] || die "n$1 is not running"; kill -CONT "$pid"
    while [[ "$(proc_state "$pid")" == [Tt] ]]; do sleep 0.05; done; status_json ;;
  restart) check_n "${1:-}"; stop_node "$1"; start_node "$1"; wait_ready "$1" || exit 1; status_json ;;
  status) if [ "${1:-}" = --json ]; then status_json; else status_text; fi ;;
  *) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
