#!/bin/bash
# usage: counters-run.sh NAME DIR [OP]: runs the lock bench (warm-up 45 s, measured 30 s) and samples the node's
# System.Runtime counters (thread-pool items, contention, allocation, GC) with dotnet-counters for 20 s from 55 s after start.
name=$1; dir=$2; op=${3:-pairs}
mkdir -p /tmp/ctr
cd $dir
dotnet run --no-build -c Release --project bench/Locks.Bench -- --op $op --rate 1000 --warmup 45 --duration 30 > /tmp/ctr/$name.txt 2>&1 &
sleep 55
pid=$(pgrep -f "CollabAkka.Node.dll" | head -1)
~/.dotnet/tools/dotnet-counters collect -p $pid --duration 00:00:00:21 --refresh-interval 10 --format csv -o /tmp/ctr/$name.csv --counters System.Runtime > /dev/null 2>&1
wait
