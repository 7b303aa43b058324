#!/usr/bin/env bash
# Runs every suite and prints the totals as its last line: "N passed, N failed".
#   .NET  : dotnet test over CollabAkka.sln (xunit; in-process nodes on loopback, real WebSockets)
#   Node  : node --test tests/js against a started node process (real @microsoft/signalr and yjs peers)
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
ART="$ROOT/artifacts"
mkdir -p "$ART"
passed=0; failed=0; skipped=0

if [ ! -d node_modules ]; then npm ci --no-audit --no-fund || { echo "npm ci failed"; echo "0 passed, 1 failed"; exit 1; }; fi
if [ -f src/Web/widget/build.mjs ]; then node src/Web/widget/build.mjs || failed=$((failed+1)); fi

if ! dotnet build CollabAkka.sln -c Release -nologo -v quiet; then
  echo "build failed"; echo "0 passed, 1 failed"; exit 1
fi

# ---- .NET suites -------------------------------------------------------------------------------
for proj in tests/*/*.csproj; do
  name=$(basename "$proj" .csproj)
  log="$ART/$name.log"
  echo "== $name"
  rm -rf "$ART/$name"
  dotnet test "$proj" -c Release --no-build -nologo --logger "trx;LogFileName=$name.trx" \
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
done

# ---- Node suites against a started node -------------------------------------------------------------
if ls tests/js/*.test.mjs >/dev/null 2>&1; then
  echo "== node tests (tests/js)"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  data=$(mktemp -d)
  dotnet src/Node/bin/Release/net10.0/CollabAkka.Node.dll --urls "http://127.0.0.1:$port" \
    --Collab:DataDir="$data" --Collab:ResourcesFile="$ROOT/config/resources.yml" --Collab:ConsoleLogs=false \
    >"$ART/node-for-js.log" 2>&1 &
  node_pid=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.2; done
  log="$ART/js.log"
  COLLAB_URL="http://127.0.0.1:$port" COLLAB_NODE_DLL="$ROOT/src/Node/bin/Release/net10.0/CollabAkka.Node.dll" \
    node --test --test-reporter=tap tests/js/*.test.mjs >"$log" 2>&1
  rc=$?
  kill "$node_pid" 2>/dev/null; wait "$node_pid" 2>/dev/null; rm -rf "$data"
  p=$(grep -E "^# pass " "$log" | awk '{print $3}'); f=$(grep -E "^# fail " "$log" | awk '{print $3}')
  s=$(grep -E "^# skipped " "$log" | awk '{print $3}')
  p=${p:-0}; f=${f:-0}; s=${s:-0}
  if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; tail -30 "$log"; fi
  [ "$f" -gt 0 ] && grep -E "^not ok" -A25 "$log" | head -120
  echo "   $p passed, $f failed, $s skipped"
  passed=$((passed+p)); failed=$((failed+f)); skipped=$((skipped+s))
fi

[ "$skipped" -gt 0 ] && echo "($skipped skipped: counted as neither)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
