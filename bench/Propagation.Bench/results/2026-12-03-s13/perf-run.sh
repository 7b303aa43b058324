#!/bin/bash
# usage: perf-run.sh NAME DIR (DIR: a checkout with Release builds of the node and bench/Locks.Bench)
name=$1; dir=$2
mkdir -p /tmp/prof
cd $dir
DOTNET_PerfMapEnabled=1 dotnet run --no-build -c Release --project bench/Locks.Bench -- --op pairs --rate 1000 --warmup 60 --duration 30 > /tmp/prof/$name.txt 2>&1 &
sleep 50
pid=$(pgrep -f "CollabAkka.Node.dll" | head -1)
echo "node pid $pid"
s1=$(head -1 /proc/stat|awk '{print $9}')
perf record -F 499 -g -p $pid -o /tmp/prof/$name.data -- sleep 15 2>&1 | tail -2
s2=$(head -1 /proc/stat|awk '{print $9}')
echo "steal $((s2-s1))"
wait
