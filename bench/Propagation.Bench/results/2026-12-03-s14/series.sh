#!/bin/bash
# usage: series.sh OUTDIR ROUNDS: alternates main (/work/main) and base (/work/wt-base, b3e6c94) on both benches of
# issue 10's point 4, each run with the host's steal ticks (/proc/stat) around it:
#   co-editing: bench.mjs --scenario 100 (default window: 5 s warm-up, 30 s measured)
#   locks:      Locks.Bench --op pairs --rate 1000 --warmup 45 --duration 30
# MAIN_NODE_DLL and MAIN_LOCKS_DIR (a Locks.Bench output folder holding the node) replace main's build outputs, e.g.
# with a ReadyToRun publish (dotnet publish src/Node -c Release -r linux-x64 --self-contained false -o /tmp/r2r, copied
# over a copy of bench/Locks.Bench/bin/Release/net10.0). BASE_NODE_DLL and BASE_LOCKS_DIR do the same for base (its
# csproj has no PublishReadyToRun: pass -p:PublishReadyToRun=true to its publish).
out=$1; n=$2
mkdir -p $out
steal() { head -1 /proc/stat | awk '{print $9}'; }
for i in $(seq 1 $n); do
  for b in main base; do
    dll=${MAIN_NODE_DLL:-/work/main/src/Node/bin/Release/net10.0/CollabAkka.Node.dll}; extra=(--node-arg Collab:ResourcesFile=/work/main/config/resources.yml)
    [ $b = base ] && { dll=${BASE_NODE_DLL:-/work/wt-base/src/Node/bin/Release/net10.0/CollabAkka.Node.dll}; extra=(--node-arg Collab:ResourcesFile=/work/wt-base/config/resources.yml); }
    s1=$(steal)
    (cd /work/main && node bench/Propagation.Bench/bench.mjs --scenario 100 --targets collab --wait-quiet 30 \
       --node-dll $dll "${extra[@]}" --json $out/coedit-$b-$i.json) > $out/coedit-$b-$i.txt 2>&1
    s2=$(steal); echo "steal_ticks $((s2-s1))" >> $out/coedit-$b-$i.txt; echo "coedit $b $i steal=$((s2-s1))"
  done
  for b in main base; do
    bin=${MAIN_LOCKS_DIR:-/work/main/bench/Locks.Bench/bin/Release/net10.0}; [ $b = base ] && bin=${BASE_LOCKS_DIR:-/work/wt-base/bench/Locks.Bench/bin/Release/net10.0}
    s1=$(steal)
    (cd $bin && dotnet Locks.Bench.dll --op pairs --rate 1000 --warmup 45 --duration 30) > $out/locks-$b-$i.txt 2>&1
    s2=$(steal); echo "steal_ticks $((s2-s1))" >> $out/locks-$b-$i.txt; echo "locks $b $i steal=$((s2-s1))"
  done
done
