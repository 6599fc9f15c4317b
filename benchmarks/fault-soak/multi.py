#!/usr/bin/env python3
"""Black-box run of several FederationHost processes with one configuration, faults one at a time (see README.md here).
Usage: multi.py SETUP RATE   SETUP: amqp (one RabbitMQ node, vhosts up and down) or js (two nats-servers -js, durable links)
Environment: LINKS (default 5), PAUSE (SIGSTOP seconds, default 25), SCENARIOS (comma-separated, default all),
FAULT_SOAK_DIR (output, default /tmp/fault-soak/multi-SETUP). Every process it starts is stopped by pid at the end."""
import json, os, shutil, signal, socket, subprocess, sys, threading, time, urllib.request, collections

SETUP, RATE = sys.argv[1], int(sys.argv[2])
NLINKS = int(os.environ.get("LINKS", "5"))
PAUSE = float(os.environ.get("PAUSE", "25"))
ROOT = os.environ.get("FAULT_SOAK_DIR", f"/tmp/fault-soak/multi-{SETUP}")
WT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
INTEROP = f"{WT}/tests/interop"
DLL = f"{WT}/examples/FederationHost/bin/Release/net10.0/FederationHost.dll"
NODE_SH = f"{WT}/examples/FederationHost/scripts/local-rabbitmq-node.sh"
PW = "mult1-Pa55w0rd"
if not os.path.exists(DLL): sys.exit(f"build the host first: dotnet build {WT}/examples/FederationHost -c Release")
shutil.rmtree(ROOT, ignore_errors=True); os.makedirs(ROOT)
EVENTS = open(f"{ROOT}/events.log", "a", buffering=1)
def log(msg):
    line = f"{time.strftime('%H:%M:%S', time.gmtime())} {msg}"
    print(line, flush=True); EVENTS.write(line + "\n")
def free_port():
    with socket.socket() as s: s.bind(("127.0.0.1", 0)); return s.getsockname()[1]
def alive(pid):
    try: os.kill(pid, 0); return True
    except OSError: return False
started = []   # (kind, object) to stop at the end

class Rabbit:
    def __init__(s, name):
        s.name = name; s.amqp, s.mgmt = free_port(), free_port()
        s.dist = free_port()
        while not (1024 < s.dist < 65000): s.dist = free_port()
    def start(s):
        shutil.rmtree(f"/tmp/rabbitmq-{s.name}", ignore_errors=True)
        r = subprocess.run(["bash", NODE_SH, "start", s.name, str(s.amqp), str(s.mgmt), str(s.dist)], capture_output=True, text=True)
        if r.returncode != 0: log(f"{s.name} start failed: {r.stderr[-800:]}"); raise SystemExit(1)
        s.pid = int(open(f"/tmp/rabbitmq-{s.name}/pid").read().strip())
        s.ctl("add_user", "fed", PW); s.ctl("set_user_tags", "fed", "management")
        s.ctl("set_permissions", "-p", "/", "fed", ".*", ".*", ".*")   # the event exchange lives in vhost /
        for v in ("up", "down"):
            s.ctl("add_vhost", v); s.ctl("set_permissions", "-p", v, "fed", ".*", ".*", ".*")
        log(f"{s.name} up pid {s.pid} amqp {s.amqp} management {s.mgmt}")
    def url(s, vhost): return f"amqp://fed:{PW}@127.0.0.1:{s.amqp}/{vhost}"
    def ctl(s, *args): return subprocess.run(["bash", NODE_SH, "ctl", s.name, *args], capture_output=True, text=True).stdout
    def stop(s): subprocess.run(["bash", NODE_SH, "stop", s.name], capture_output=True)

class Nats:
    def __init__(s, name): s.name, s.port, s.mport = name, free_port(), free_port(); s.dir = f"{ROOT}/{name}-store"
    def start(s):
        s.proc = subprocess.Popen(["nats-server", "-a", "127.0.0.1", "-p", str(s.port), "-m", str(s.mport), "-n", s.name,
                                   "-js", "-sd", s.dir, "--user", "federator", "--pass", PW],
                                  stdout=open(f"{ROOT}/{s.name}.log", "a"), stderr=subprocess.STDOUT)
        for _ in range(100):
            try: urllib.request.urlopen(f"http://127.0.0.1:{s.mport}/healthz?js-enabled-only=true", timeout=1); break
            except Exception: time.sleep(0.2)
        log(f"{s.name} up pid {s.proc.pid} port {s.port}")
    def url(s, auth=True): return f"nats://federator:{PW}@127.0.0.1:{s.port}" if auth else f"nats://127.0.0.1:{s.port}"
    def stop(s): s.proc.terminate(); s.proc.wait(timeout=30)

class Host:
    def __init__(s, i):
        s.name, s.port, s.dir, s.proc, s.paused = f"host-{i}", free_port(), f"{ROOT}/host-{i}", None, False
        os.makedirs(s.dir)
    def start(s):
        s.proc = subprocess.Popen(["dotnet", DLL, "--contentRoot", s.dir, f"--Federation:InstanceName={s.name}",
                                   f"--Host:Url=http://127.0.0.1:{s.port}",
                                   "--Logging:Console:FormatterOptions:TimestampFormat=HH:mm:ss.fff "],
                                  stdout=open(f"{ROOT}/{s.name}.log", "a"), stderr=subprocess.STDOUT)
        log(f"{s.name} up pid {s.proc.pid} http {s.port}")
    def running(s): return s.proc is not None and s.proc.poll() is None
    def get(s, path):
        if not s.running() or s.paused: return None, "down"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{s.port}{path}", timeout=5) as r: return r.status, r.read().decode()
        except urllib.error.HTTPError as e: return e.code, e.read().decode()
        except Exception as e: return None, str(e)
    def links(s):
        st, body = s.get("/federation/links")
        try: return json.loads(body) if st == 200 else None
        except Exception: return None
    def health(s):
        st, body = s.get("/health")
        try: return st, json.loads(body)
        except Exception: return st, body

if SETUP == "amqp":
    rabbit = Rabbit("mh-rabbit"); exchanges = [f"federated.orders.{k}" for k in range(NLINKS)]
else:
    up, down = Nats("mh-js-up"), Nats("mh-js-down"); exchanges = [f"o{k}" for k in range(NLINKS)]
hosts = [Host(i) for i in (1, 2, 3)]
os.environ["NATS_USER"], os.environ["NATS_PASS"] = "federator", PW
policy_pattern = {h.name: None for h in hosts}   # None: every exchange

def write_config(h):
    pattern = policy_pattern[h.name] or ("^federated\\.orders\\." if SETUP == "amqp" else f"^o[0-{NLINKS - 1}]$")
    if SETUP == "amqp":
        fed = {"ClusterName": "mh-down",
               "Downstream": {"uri": f"{rabbit.url('down')}?management-port={rabbit.mgmt}"},
               "Upstreams": {"up": {"uri": f"{rabbit.url('up')}?management-port={rabbit.mgmt}", "max-hops": 1,
                                    "ack-mode": "on-confirm", "prefetch-count": 1000, "reconnect-delay": 1}}}
    else:
        fed = {"Downstream": {"uri": f"{down.url()}?cluster-name={down.name}&monitor-port={down.mport}"
                                     f"&namespaces={','.join(exchanges)}&jetstream=true"},
               "Upstreams": {"up": {"uri": f"{up.url()}?cluster-name={up.name}&jetstream=true&ack-wait-ms=5000", "max-hops": 1,
                                    "ack-mode": "on-confirm", "prefetch-count": 1000, "resource-cleanup-mode": "never"}}}
    fed["Policies"] = {"orders": {"pattern": pattern, "apply-to": "exchanges",
                                  "definition": {"federation-upstream-set": "all"}}}
    cfg = {"Logging": {"LogLevel": {"Default": "Information", "Microsoft.AspNetCore": "Warning"}},
           "Host": {"Url": "http://127.0.0.1:1", "CreateInMemoryBrokers": False}, "Federation": fed}
    tmp = f"{h.dir}/appsettings.json.tmp"
    with open(tmp, "w") as f: json.dump(cfg, f, indent=2)
    os.replace(tmp, f"{h.dir}/appsettings.json")

procs = []
def node(*a):
    p = subprocess.Popen(["node", *a], cwd=INTEROP, stdout=open(f"{ROOT}/{a[0]}.log", "a"), stderr=subprocess.STDOUT)
    procs.append(p); return p

def stop_all():
    for h in hosts:
        if h.running():
            if h.paused: os.kill(h.proc.pid, signal.SIGCONT)
            h.proc.kill(); h.proc.wait()
    for p in procs:
        if p.poll() is None: p.kill(); p.wait()
    if SETUP == "amqp": rabbit.stop()
    else:
        for b in (up, down):
            try: b.stop()
            except Exception: pass

try:
    if SETUP == "amqp":
        rabbit.start()
        consumer = node("soak-consume-amqp.mjs", rabbit.url("down"), ",".join(exchanges), "soak.received", f"{ROOT}/received.txt")
    else:
        up.start(); down.start()
    for h in hosts: write_config(h); h.start()

    # ---- status checks ----
    SNAP = open(f"{ROOT}/status.log", "a", buffering=1)
    def snapshot(label):
        """Each live host's view: link -> (state, running_on, also_held_by, waiting); health. Returns a list of problems."""
        views, problems = {}, []
        for h in hosts:
            l = h.links(); st, hb = h.health()
            if l is None: continue
            views[h.name] = {x["id"]: x for x in l}
            status = hb.get("status") if isinstance(hb, dict) else hb
            SNAP.write(f"{time.strftime('%H:%M:%S', time.gmtime())} [{label}] {h.name} health={st}/{status} "
                       f"{json.dumps(hb.get('description') if isinstance(hb, dict) else hb)[:400]}\n")
            for x in l:
                SNAP.write(f"    {x['id'][:60]:60} {x['state']:8} running_on={x.get('running_on')} holder={x.get('lease_holder')} "
                           f"also={x.get('also_held_by')} waiting={(x.get('waiting') or '')[:140]} error={(x.get('error') or '')[:200]}\n")
        ids = set().union(*[set(v) for v in views.values()]) if views else set()
        runners = collections.defaultdict(list)
        for name, v in views.items():
            for i, x in v.items():
                if x["state"] == "running": runners[i].append(name)
        for i in sorted(ids):
            if len(runners[i]) != 1: problems.append(f"{i}: running on {runners[i]}")
            for name, v in views.items():
                x = v.get(i)
                if x is None: continue
                if x.get("also_held_by"): problems.append(f"{i} on {name}: also_held_by {x['also_held_by']}")
                if x["state"] == "waiting" and len(runners[i]) == 1 and x.get("running_on") != runners[i][0]:
                    problems.append(f"{i} on {name}: waiting, running_on {x.get('running_on')} but runs on {runners[i][0]}")
                if x["state"] not in ("running", "waiting"): problems.append(f"{i} on {name}: {x['state']} {x.get('error')}")
        for h in hosts:
            if h.name in views:
                st, hb = h.health()
                if st != 200 or (isinstance(hb, dict) and hb.get("status") != "Healthy"):
                    problems.append(f"{h.name} health {st} {hb.get('status') if isinstance(hb, dict) else hb}")
        per_host = {n: sum(1 for x in v.values() if x["state"] == "running") for n, v in views.items()}
        return problems, per_host

    def wait_settled(label, timeout=90, spread=True):
        t0 = time.time(); problems = per_host = None
        while time.time() - t0 < timeout:
            problems, per_host = snapshot(label)
            live = [h for h in hosts if h.running() and not h.paused]
            balanced = (not spread) or (per_host and len(per_host) == len(live)
                                        and max(per_host.values()) - min(per_host.values()) <= 1)
            if not problems and balanced and sum(per_host.values()) == NLINKS:
                log(f"[{label}] settled after {time.time() - t0:.1f} s: {per_host}"); return time.time() - t0
            time.sleep(1)
        log(f"[{label}] NOT settled within {timeout} s: {per_host} problems={problems}")
        return None

    wait_settled("start", 180)
    if SETUP == "amqp":
        publisher = node("soak-publish-amqp.mjs", rabbit.url("up"), ",".join(exchanges), str(RATE), f"{ROOT}/sent.txt")
    else:
        streams = ",".join(f"federation-{e}" for e in exchanges)
        publisher = node("soak-publish-jetstream.mjs", up.url(False), ",".join(f"{e}.created" for e in exchanges), str(RATE),
                         f"{ROOT}/sent.txt", streams)
        consumer = node("soak-consume-jetstream.mjs", down.url(False), streams, f"{ROOT}/received.txt")
    def sent_count():
        try: return sum(1 for _ in open(f"{ROOT}/sent.txt"))
        except FileNotFoundError: return 0
    marks = []   # (scenario, first seq of its window)
    def mark(name): marks.append((name, sent_count())); log(f"== {name} (sent so far {marks[-1][1]})")
    time.sleep(20)

    def busiest():
        best, n = None, -1
        for h in hosts:
            l = h.links() or []
            k = sum(1 for x in l if x["state"] == "running")
            if k > n: best, n = h, k
        return best, n
    def watch(label, seconds):
        t0 = time.time()
        while time.time() - t0 < seconds:
            problems, per_host = snapshot(label); log(f"[{label}] +{time.time() - t0:.0f}s {per_host} {problems[:6]}")
            time.sleep(3)

    SCEN = os.environ.get("SCENARIOS", "kill9,pause,term,reload").split(",")
    for scen in SCEN:
        if scen == "kill9":
            h, n = busiest(); mark(f"kill9 {h.name} ({n} links), restarted 1 s later with the same InstanceName")
            t0 = time.time(); h.proc.kill(); h.proc.wait()
            others = [x for x in hosts if x is not h]
            while time.time() - t0 < 60:
                runs = collections.Counter(i for x in others for i in [y["id"] for y in (x.links() or []) if y["state"] == "running"])
                if len(runs) == NLINKS and all(c == 1 for c in runs.values()): break
                time.sleep(0.2)
            log(f"every link running on the survivors {time.time() - t0:.1f} s after kill -9")
            time.sleep(1); h.start(); watch("kill9-restart", 9); wait_settled("after kill9 + restart")
        elif scen == "pause":
            h, n = busiest(); mark(f"SIGSTOP {h.name} ({n} links) for {PAUSE:.0f} s")
            os.kill(h.proc.pid, signal.SIGSTOP); h.paused = True
            watch("paused", PAUSE)
            os.kill(h.proc.pid, signal.SIGCONT); h.paused = False; log(f"SIGCONT {h.name}")
            watch("resumed", 12); wait_settled("after pause", 120)
        elif scen == "term":
            h, n = busiest(); mark(f"SIGTERM {h.name} ({n} links), restarted 2 s after it exits")
            t0 = time.time(); h.proc.terminate(); rc = h.proc.wait(timeout=60)
            log(f"{h.name} exited {rc} {time.time() - t0:.1f} s after SIGTERM")
            watch("after-term", 5); time.sleep(2); h.start(); wait_settled("after term + restart")
        elif scen == "reload":
            # one host drops the link it runs from its configuration (its policy pattern excludes that exchange)
            h, _ = busiest(); l = [x for x in h.links() if x["state"] == "running"]
            ex = l[0]["exchange"]; mark(f"reload on {h.name} only: its policy no longer matches {ex}")
            rest = "|".join(e.replace(".", "\\.") for e in exchanges if e != ex)   # no lookarounds: patterns match in linear time
            policy_pattern[h.name] = f"^({rest})$"
            write_config(h); watch("reloaded", 12); wait_settled("after reload", 60, spread=False)
            mark(f"reload on {h.name}: {ex} back"); policy_pattern[h.name] = None; write_config(h)
            watch("restored", 6); wait_settled("after restore", 60)
        time.sleep(15)
    mark("end")
    time.sleep(10)
    publisher.send_signal(signal.SIGTERM); publisher.wait(timeout=120); log("publisher stopped")
    last, since, t0 = -1, time.time(), time.time()
    while time.time() - t0 < 300:
        try: n = sum(1 for _ in open(f"{ROOT}/received.txt"))
        except FileNotFoundError: n = 0
        if n != last: last, since = n, time.time()
        elif time.time() - since > 25: break
        time.sleep(2)
    log(f"received lines stable at {last}")
    snapshot("final")
    if SETUP == "js":
        with open(f"{ROOT}/stream-dump.txt", "w") as out:
            for e in exchanges:
                r = subprocess.run(["node", "soak-dump-jetstream.mjs", down.url(False), f"federation-{e}"], cwd=INTEROP, capture_output=True, text=True)
                out.write(r.stdout); log(r.stderr.strip())
    json.dump(marks, open(f"{ROOT}/marks.json", "w"))
finally:
    stop_all(); log("all stopped")
subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "analyze.py"), ROOT])
# lost and duplicated per scenario window
marks = json.load(open(f"{ROOT}/marks.json"))
conf = {int(l.split()[1]) for l in open(f"{ROOT}/sent.txt") if l.startswith("c ")}
copies = collections.Counter(int(l.split()[0]) for l in open(f"{ROOT}/received.txt"))
dump = collections.Counter()
if os.path.exists(f"{ROOT}/stream-dump.txt"): dump = collections.Counter(int(x) for x in open(f"{ROOT}/stream-dump.txt") if x.strip())
bounds = [("before the first fault", 0)] + [(n, s) for n, s in marks]
for k, (name, start) in enumerate(bounds):
    end = bounds[k + 1][1] if k + 1 < len(bounds) else 1 << 60
    window = [s for s in conf if start <= s < end]
    lost = sum(1 for s in window if copies[s] == 0); dup = sum(1 for s in window if copies[s] > 1)
    extra = f" stream_dups={sum(1 for s in window if dump[s] > 1)} stream_lost={sum(1 for s in window if dump[s] == 0)}" if dump else ""
    print(f"{name}: sent={len(window)} received={sum(1 for s in window if copies[s])} lost={lost} duplicated={dup}{extra}")
