#!/bin/bash
# usage: run.sh NAME DLL [extra bench args]
set -u
export PATH=$PATH:~/.dotnet/tools
NAME=$1; DLL=$2; shift 2
cd /work/main
node bench/Propagation.Bench/bench.mjs --scenario 100 --targets collab --wait-quiet 30 --node-dll "$DLL" "$@" --json /tmp/jit/$NAME.json > /tmp/jit/$NAME.out 2>&1 &
BP=$!
for i in $(seq 1 600); do
  PID=$(pgrep -f "dotnet $DLL" | head -1)
  [ -n "$PID" ] && break
  sleep 0.2
done
echo "node pid $PID"
dotnet-counters collect -p $PID --format csv --refresh-interval 1 --counters System.Runtime -o /tmp/jit/$NAME.csv > /tmp/jit/$NAME.cnt.log 2>&1 &
wait $BP
echo "bench rc $?"
