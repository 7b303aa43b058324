#!/bin/bash
# usage: series.sh OUTDIR ROUNDS: alternates main (/work/main) and base (/work/wt-base, b3e6c94) on both benches of
# issue 10's point 4, each run with the host's steal ticks (/proc/stat) around it:
#   co-editing: bench.mjs --scenario 100 (default window: 5 s warm-up, 30 s measured)
#   locks:      Locks.Bench --op pairs --rate 1000 --warmup 45 --duration 30
out=$1; n=$2
mkdir -p $out
steal() { head -1 /proc/stat | awk '{print $9}'; }
for i in $(seq 1 $n); do
  for b in main base; do
    dir=/work/main; extra=(); [ $b = base ] && { dir=/work/wt-base; extra=(--node-arg Collab:ResourcesFile=/work/wt-base/config/resources.yml); }
    s1=$(steal)
    (cd /work/main && node bench/Propagation.Bench/bench.mjs --scenario 100 --targets collab --wait-quiet 30 \
       --node-dll $dir/src/Node/bin/Release/net10.0/CollabAkka.Node.dll "${extra[@]}" --json $out/coedit-$b-$i.json) > $out/coedit-$b-$i.txt 2>&1
    s2=$(steal); echo "steal_ticks $((s2-s1))" >> $out/coedit-$b-$i.txt; echo "coedit $b $i steal=$((s2-s1))"
  done
  for b in main base; do
    dir=/work/main; [ $b = base ] && dir=/work/wt-base
    s1=$(steal)
    (cd $dir && dotnet run --no-build -c Release --project bench/Locks.Bench -- --op pairs --rate 1000 --warmup 45 --duration 30) > $out/locks-$b-$i.txt 2>&1
    s2=$(steal); echo "steal_ticks $((s2-s1))" >> $out/locks-$b-$i.txt; echo "locks $b $i steal=$((s2-s1))"
  done
done
