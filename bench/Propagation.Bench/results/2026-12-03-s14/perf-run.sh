#!/bin/bash
# usage: perf-run.sh NAME DIR [OP]: profiles the node (perf record -F 499 -g, 15 s) from 65 s after start, when the JIT
# has settled (warm-up 60 s, measured 30 s). JIT frames resolve through perf maps (W^X off so perf sees one mapping).
name=$1; dir=$2; op=${3:-pairs}
mkdir -p /tmp/prof
cd $dir
DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 dotnet run --no-build -c Release --project bench/Locks.Bench -- --op $op --rate 1000 --warmup 60 --duration 30 > /tmp/prof/$name.txt 2>&1 &
sleep 68
pid=$(pgrep -f "CollabAkka.Node.dll" | head -1)
echo "node pid $pid"
s1=$(head -1 /proc/stat|awk '{print $9}')
perf record -F 499 -g -p $pid -o /tmp/prof/$name.data -- sleep 15 2>&1 | tail -2
s2=$(head -1 /proc/stat|awk '{print $9}')
echo "steal $((s2-s1))"
wait
