#!/usr/bin/env bash
# Runs one CollabAkka node on the embedded profile (explicitly; the binary defaults to production): single node, SQLite under ./data, dev tokens on.
#   ./run.sh                 -> http://127.0.0.1:5000   (PORT=8080 ./run.sh to change)
set -euo pipefail
cd "$(dirname "$0")"
PORT="${PORT:-5000}"
if [ ! -d node_modules ]; then npm ci --no-audit --no-fund; fi
if [ -f src/Widget/build.mjs ]; then node src/Widget/build.mjs; fi
dotnet build src/Node -c Release -v quiet -nologo
echo "CollabAkka: starting on http://127.0.0.1:${PORT}  (health: /health, capabilities: /api/capabilities, demo: /demo)"
exec dotnet src/Node/bin/Release/net10.0/CollabAkka.Node.dll \
  --urls "http://127.0.0.1:${PORT}" \
  --Collab:Profile=embedded \
  --Collab:DataDir="$PWD/data" \
  --Collab:ResourcesFile="$PWD/config/resources.yml" "$@"
