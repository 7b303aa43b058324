#!/bin/bash
# usage: ops.sh OUTDIR WARMUP DURATION ROUNDS OP... : alternates main (/work/main) and base (/work/wt-base) for each op,
# records the host's steal ticks (/proc/stat) around every run.
out=$1; wu=$2; du=$3; n=$4; shift 4
mkdir -p $out
for i in $(seq 1 $n); do
  for op in "$@"; do
    for b in main base; do
      dir=/work/main; [ $b = base ] && dir=/work/wt-base
      s1=$(head -1 /proc/stat|awk '{print $9}')
      (cd $dir && dotnet run --no-build -c Release --project bench/Locks.Bench -- --op $op --rate 1000 --warmup $wu --duration $du) > $out/$op-$b-$i.txt 2>&1
      s2=$(head -1 /proc/stat|awk '{print $9}')
      echo "steal_ticks $((s2-s1))" >> $out/$op-$b-$i.txt
      echo "$op $b $i steal=$((s2-s1))"
    done
  done
done
