#!/usr/bin/env bash
# Runs every suite and prints the totals as its last line: "N passed, N failed".
#   .NET  : dotnet test over CollabAkka.sln (xunit; in-process nodes on loopback, real WebSockets); Gateway.Tests
#           again on PostgreSQL and again on the MessagePack hub protocol
#   Node  : node --test tests/js against a started node process (real @microsoft/signalr and yjs peers)
#   Browser: node --test tests/browser: the widget in headless Debian Chromium (playwright-core) against a started node
#   Cluster: node --test tests/cluster: deploy/local-cluster.sh (PostgreSQL + 3 nodes + nginx) driven end to end
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
ART="$ROOT/artifacts"
mkdir -p "$ART"
passed=0; failed=0; skipped=0

if [ ! -d node_modules ]; then npm ci --no-audit --no-fund || { echo "npm ci failed"; echo "0 passed, 1 failed"; exit 1; }; fi
if [ -f src/Widget/build.mjs ]; then node src/Widget/build.mjs || failed=$((failed+1)); fi

if ! dotnet build CollabAkka.sln -c Release -nologo -v quiet; then
  echo "build failed"; echo "0 passed, 1 failed"; exit 1
fi

# ---- PostgreSQL on loopback (scripts/pg.sh): Store.Tests and the postgres pass of Gateway.Tests ----------
if [ -z "${COLLAB_TEST_PG:-}" ] && ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  if COLLAB_TEST_PG=$(bash scripts/pg.sh start); then export COLLAB_TEST_PG; else echo "PostgreSQL did not start"; unset COLLAB_TEST_PG; fi
fi

# ---- .NET suites -------------------------------------------------------------------------------
# run_suite PROJECT NAME [VAR=value ...]: one dotnet test run, its totals added to ours.
run_suite() {
  local proj=$1 name=$2; shift 2
  log="$ART/$name.log"
  echo "== $name"
  rm -rf "$ART/$name"
  env "$@" dotnet test "$proj" -c Release --no-build -nologo --logger "trx;LogFileName=$name.trx" \
    --results-directory "$ART/$name" >"$log" 2>&1
  rc=$?
  # Totals from the TRX counters: <Counters total=".." passed=".." failed=".." notExecuted=".." ...>
  read -r p f s < <(python3 - "$ART/$name/$name.trx" <<'PY'
import sys, re
try:
    xml = open(sys.argv[1], encoding="utf-8-sig").read()
    c = re.search(r"<Counters ([^>]*)>", xml).group(1)
    g = lambda k: int(re.search(k + r'="(\d+)"', c).group(1))
    print(g("passed"), g("failed") + g("error") + g("timeout") + g("aborted"), g("notExecuted"))
except Exception:
    print(0, 0, 0)
PY
)
  if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "   $name exited with $rc without a failed test (crash?)"; tail -30 "$log"; fi
  [ "$f" -gt 0 ] && grep -E "^\s+Failed |Error Message" -A4 "$log" | head -80
  echo "   $p passed, $f failed, $s skipped"
  passed=$((passed+p)); failed=$((failed+f)); skipped=$((skipped+s))
}
for proj in tests/*/*.csproj; do run_suite "$proj" "$(basename "$proj" .csproj)"; done
# The gateway suite again with every test client on the MessagePack hub protocol (issue 14; TestKit TestHubProtocol).
run_suite tests/Gateway.Tests/Gateway.Tests.csproj Gateway.Tests.messagepack COLLAB_TEST_HUB_PROTOCOL=messagepack
# The gateway, lock, co-editing and restart/kill tests again with every test node on PostgreSQL (own schema each).
if [ -n "${COLLAB_TEST_PG:-}" ]; then
  run_suite tests/Gateway.Tests/Gateway.Tests.csproj Gateway.Tests.postgres COLLAB_TEST_STORE=postgres
else
  echo "== Gateway.Tests.postgres: no PostgreSQL (apt-get install postgresql)"; failed=$((failed+1))
fi

# ---- node:test suites against a started node process ------------------------------------------------
# run_node_suite NAME GLOB [node args...]: start a node on a free port, run `node --test GLOB` against it
# (COLLAB_URL), add the TAP totals to ours.
run_node_suite() {
  local name=$1 glob=$2; shift 2
  local port data node_pid log rc p f s
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  data=$(mktemp -d)
  dotnet src/Node/bin/Release/net10.0/CollabAkka.Node.dll --urls "http://127.0.0.1:$port" \
    --Collab:Profile=embedded --Collab:DataDir="$data" --Collab:ResourcesFile="$ROOT/config/resources.yml" --Collab:ConsoleLogs=false "$@" \
    >"$ART/node-for-$name.log" 2>&1 &
  node_pid=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.2; done
  log="$ART/$name.log"
  # shellcheck disable=SC2086 # the glob is meant to expand
  COLLAB_URL="http://127.0.0.1:$port" COLLAB_NODE_DLL="$ROOT/src/Node/bin/Release/net10.0/CollabAkka.Node.dll" \
    CHROMIUM_PATH="${chromium:-}" node --test --test-reporter=tap $glob >"$log" 2>&1
  rc=$?
  kill "$node_pid" 2>/dev/null; wait "$node_pid" 2>/dev/null; rm -rf "$data"
  p=$(grep -E "^# pass " "$log" | awk '{print $3}'); f=$(grep -E "^# fail " "$log" | awk '{print $3}')
  s=$(grep -E "^# skipped " "$log" | awk '{print $3}')
  p=${p:-0}; f=${f:-0}; s=${s:-0}
  if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; tail -30 "$log"; fi
  [ "$f" -gt 0 ] && grep -E "^not ok" -A25 "$log" | head -120
  grep -h "widget metrics" "$log" | head -1
  echo "   $p passed, $f failed, $s skipped"
  passed=$((passed+p)); failed=$((failed+f)); skipped=$((skipped+s))
}

# Real @microsoft/signalr and yjs peers.
if ls tests/js/*.test.mjs >/dev/null 2>&1; then
  echo "== node tests (tests/js)"
  run_node_suite js 'tests/js/*.test.mjs'
fi

# The widget in headless Chromium (Debian's; never downloaded); screenshots in artifacts/screenshots/.
if ls tests/browser/*.test.mjs >/dev/null 2>&1; then
  echo "== browser tests (tests/browser)"
  chromium="${CHROMIUM_PATH:-/usr/bin/chromium}"
  if [ ! -x "$chromium" ]; then
    echo "   $chromium is missing: apt-get install -y chromium (.ci/run does this)"
    failed=$((failed+1))
  else
    run_node_suite browser 'tests/browser/*.test.mjs' --Collab:WidgetDir="$ROOT/src/Widget/dist"
  fi
fi

# deploy/local-cluster.sh end to end (it starts its own PostgreSQL, nodes and nginx in a temp state dir).
if ls tests/cluster/*.test.mjs >/dev/null 2>&1; then
  echo "== cluster (tests/cluster)"
  if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
    echo "   nginx is missing: apt-get install -y nginx (.ci/run does this)"
    failed=$((failed+1))
  else
    log="$ART/cluster.log"
    node --test --test-reporter=tap tests/cluster/*.test.mjs >"$log" 2>&1
    rc=$?
    p=$(grep -E "^# pass " "$log" | awk '{print $3}'); f=$(grep -E "^# fail " "$log" | awk '{print $3}')
    s=$(grep -E "^# skipped " "$log" | awk '{print $3}')
    p=${p:-0}; f=${f:-0}; s=${s:-0}
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; tail -30 "$log"; fi
    [ "$f" -gt 0 ] && grep -E "^\s*not ok" -A25 "$log" | head -120
    echo "   $p passed, $f failed, $s skipped"
    passed=$((passed+p)); failed=$((failed+f)); skipped=$((skipped+s))
  fi
fi

[ "$skipped" -gt 0 ] && echo "($skipped skipped: counted as neither)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
