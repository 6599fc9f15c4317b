#!/usr/bin/env python3
# Share of managed busy time in a dotnet-trace speedscope file (dotnet-sampled-thread-time, evented) that has a frame
# matching each NAME on the stack. Intervals whose top frame is native code (UNMANAGED_CODE_TIME) or a wait are idle.
# Usage: benchmarks/speedscope-share.py TRACE.speedscope.json NAME...
import json,sys,collections
d=json.load(open(sys.argv[1]))
frames=[f['name'] for f in d['shared']['frames']]
pats=sys.argv[2:]
idle=('UNMANAGED_CODE_TIME','LowLevelLifoSemaphore','WaitHandle','Monitor.Wait','Thread.Sleep','EventLoop','epoll','WaitForSignal','SleepEx','Wait(','WaitOne','WaitCore','ManualResetEventSlim.Wait')
tot=0;busy=0;inc=collections.Counter()
for p in d['profiles']:
    stack=[];last=None
    for e in p['events']:
        t=e['at']
        if last is not None and stack:
            dt=t-last; tot+=dt
            names=[frames[i] for i in stack]
            if not any(any(m in n for m in idle) for n in names[-1:]):
                busy+=dt
                for pat in pats:
                    if any(pat in n for n in names): inc[pat]+=dt
        last=t
        if e['type']=='O': stack.append(e['frame'])
        else:
            if stack: stack.pop()
print(f"total={tot/1000:.1f}s busy={busy/1000:.2f}s")
for pat in pats: print(f"{100*inc[pat]/max(busy,1e-9):6.2f}%  {pat}")
