import csv,sys
for name in sys.argv[1:]:
    rows=[r for r in csv.reader(open(f'/tmp/jit/{name}.csv')) if len(r)>4 and r[2].startswith('dotnet.jit.compiled_methods')]
    t=[r for r in csv.reader(open(f'/tmp/jit/{name}.csv')) if len(r)>4 and r[2].startswith('dotnet.jit.compilation.time')]
    cpu=[r for r in csv.reader(open(f'/tmp/jit/{name}.csv')) if len(r)>4 and r[2].startswith('dotnet.process.cpu.time')]
    m=[float(r[4]) for r in rows]; s=[float(r[4]) for r in t]
    print(name, 'samples',len(m), 'total methods',sum(m), 'jit s',round(sum(s),3))
    out=[]
    for i in range(0,len(m),10):
        out.append(f"{int(sum(m[i:i+10]))}/{sum(s[i:i+10])*1000:.0f}ms")
    print('  per10s:', ' '.join(out))
print('cpu ms per insert per 10 s bucket (200 inserts/s)')
for name in sys.argv[1:]:
    rs=[r for r in csv.reader(open(f'/tmp/jit/{name}.csv')) if len(r)>4 and r[2].startswith('dotnet.process.cpu.time')]
    by={}
    for r in rs: by.setdefault(r[0],0.0); by[r[0]]+=float(r[4])
    v=list(by.values())
    print(name, ' '.join(f"{sum(v[i:i+10])*1000/2000:.2f}" for i in range(0,len(v),10)))
