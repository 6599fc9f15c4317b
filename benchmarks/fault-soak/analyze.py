#!/usr/bin/env python3
"""analyze.py DIR: lost / duplicated sequences of a soak run."""
import sys, json, collections
d = sys.argv[1]
conf, unc = set(), set()
for l in open(f"{d}/sent.txt"):
    k, s = l.split(); (conf if k == "c" else unc).add(int(s))
copies = collections.Counter(); fresh = collections.Counter()
for l in open(f"{d}/received.txt"):
    p = l.split(); s = int(p[0]); copies[s] += 1
    if p[1] == "0": fresh[s] += 1
got = set(copies)
lost = sorted(conf - got)
res = {"confirmed_sent": len(conf), "uncertain_sent": len(unc), "uncertain_received": len(unc & got),
       "deliveries": sum(copies.values()), "distinct_received": len(got),
       "lost": len(lost), "lost_sample": lost[:20],
       "dup_any": sum(1 for s, c in copies.items() if c > 1),
       "dup_unflagged(federation)": sum(1 for s, c in fresh.items() if c > 1),
       "unexpected": len(got - conf - unc)}
try:
    dump = collections.Counter(int(x) for x in open(f"{d}/stream-dump.txt") if x.strip())
    res.update({"stream_messages": sum(dump.values()), "stream_distinct": len(dump),
                "stream_dups": sum(1 for c in dump.values() if c > 1),
                "stream_dup_sample": sorted(s for s, c in dump.items() if c > 1)[:20],
                "stream_lost": len(conf - set(dump)), "stream_lost_sample": sorted(conf - set(dump))[:20]})
except FileNotFoundError: pass
# group lost seqs into ranges
def ranges(xs):
    out = []; 
    for x in xs:
        if out and x == out[-1][1] + 1: out[-1][1] = x
        else: out.append([x, x])
    return out
res["lost_ranges"] = ranges(lost)[:30]
dup_f = sorted(s for s, c in fresh.items() if c > 1)
res["dup_unflagged_ranges"] = ranges(dup_f)[:30]
print(json.dumps(res, indent=1))
