#!/usr/bin/env python3
"""usage: summary.py DIR: one row per run of series.sh, then the median of main over base per figure."""
import glob, os, re, statistics, sys
d = sys.argv[1]
rows = {}
def num(p, t):
    m = re.search(p, t)
    return float(m.group(1)) if m else None
for f in sorted(glob.glob(os.path.join(d, '*.txt'))):
    name = os.path.basename(f)[:-4]
    kind, build, i = name.split('-')
    t = open(f).read()
    steal = num(r'steal_ticks (\d+)', t)
    if kind == 'coedit':
        r = dict(cpu=num(r'server: ([\d.]+) ms CPU per delivered insert', t),
                 prop50=num(r'propagation\s+n=\s*\d+\s+p50\s+([\d.]+)', t), prop99=num(r'propagation\s+n=.*?p99\s+([\d.]+)', t),
                 ack50=num(r'ack\s+n=\s*\d+\s+p50\s+([\d.]+)', t), ack99=num(r'ack\s+n=.*?p99\s+([\d.]+)', t))
    else:
        def row(label):
            m = re.search(r'\| ' + re.escape(label) + r'[^|]*\| \d+ \| ([\d.]+) \| [\d.]+ \| ([\d.]+) \|', t)
            return (float(m.group(1)), float(m.group(2))) if m else (None, None)
        a, r_ = row('lock:acquire round trip'), row('lock:release round trip')
        r = dict(cpu=num(r'node ([\d.]+), bench client', t), acq50=a[0], acq99=a[1], rel50=r_[0], rel99=r_[1])
    r['steal'] = steal
    rows.setdefault(kind, {}).setdefault(build, []).append((int(i), r))
for kind, builds in rows.items():
    print(f'== {kind}')
    for build in ('main', 'base'):
        for i, r in sorted(builds.get(build, [])):
            print(f'  {build} {i}: ' + ' '.join(f'{k}={v}' for k, v in r.items()))
    keys = [k for k in builds['main'][0][1] if k != 'steal']
    med = {b: {k: statistics.median([r[k] for _, r in builds.get(b, []) if r[k] is not None] or [float('nan')]) for k in keys} for b in ('main', 'base')}
    print('  median main: ' + ' '.join(f'{k}={med["main"][k]:.3f}' for k in keys))
    print('  median base: ' + ' '.join(f'{k}={med["base"][k]:.3f}' for k in keys))
    print('  main/base:   ' + ' '.join(f'{k}={med["main"][k] / med["base"][k]:.2f}' for k in keys))
