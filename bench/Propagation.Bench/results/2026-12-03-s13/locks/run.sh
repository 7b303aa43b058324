#!/bin/bash
# usage: run.sh TAG WARMUP DURATION ROUNDS
tag=$1; wu=$2; du=$3; n=$4
for i in $(seq 1 $n); do
  for b in main base; do
    dir=/work/main; [ $b = base ] && dir=/work/wt-base
    s1=$(head -1 /proc/stat|awk '{print $9}')
    (cd $dir && dotnet run --no-build -c Release --project bench/Locks.Bench -- --op pairs --rate 1000 --warmup $wu --duration $du) > /tmp/locks13/$tag-$b-$i.txt 2>&1
    s2=$(head -1 /proc/stat|awk '{print $9}')
    echo "steal_ticks $((s2-s1))" >> /tmp/locks13/$tag-$b-$i.txt
    echo "$tag $b $i steal=$((s2-s1))"
  done
done
