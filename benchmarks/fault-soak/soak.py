#!/usr/bin/env python3
"""Black-box fault soak of FederationHost (see README.md here). Usage: soak.py SETUP MINUTES RATE
SETUP: amqp (RabbitMQ -> RabbitMQ), js (JetStream -> JetStream), amqp-js (RabbitMQ -> JetStream),
amqp-nats (RabbitMQ -> core NATS), nats-amqp (core NATS -> RabbitMQ), js-amqp (JetStream -> RabbitMQ).
Environment: SEED (random faults), KINDS (comma-separated fault kinds), MSGID=1 (AMQP publisher sets message-id),
FAULT_SOAK_DIR (output, default /tmp/fault-soak/SETUP), WARMUP and SETTLE (seconds of load before the first fault,
default 30, and after the last, default 60)."""
import json, os, random, signal, socket, subprocess, sys, time, urllib.request, threading, shutil

SETUP, MINUTES, RATE = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
ROOT = os.environ.get("FAULT_SOAK_DIR", f"/tmp/fault-soak/{SETUP}")
WT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
INTEROP = f"{WT}/tests/interop"
DLL = f"{WT}/examples/FederationHost/bin/Release/net10.0/FederationHost.dll"
NODE_SH = f"{WT}/examples/FederationHost/scripts/local-rabbitmq-node.sh"
PW = "s0ak-Pa55w0rd"
random.seed(int(os.environ.get("SEED", "1")))
if not os.path.exists(DLL): sys.exit(f"build the host first: dotnet build {WT}/examples/FederationHost -c Release")
if not os.path.isdir(f"{INTEROP}/node_modules"): sys.exit(f"install the npm clients first: cd {INTEROP} && npm ci")
shutil.rmtree(ROOT, ignore_errors=True); os.makedirs(ROOT)
EVENTS = open(f"{ROOT}/events.log", "a", buffering=1)

def log(msg):
    line = f"{time.strftime('%H:%M:%S', time.gmtime())} {msg}"
    print(line, flush=True); EVENTS.write(line + "\n")

def alive(pid):
    try: os.kill(pid, 0); return True
    except OSError: return False

class Rabbit:
    def __init__(s, name, amqp, mgmt, dist):
        s.name, s.amqp, s.mgmt, s.dist = name, amqp, mgmt, dist
        s.pid = None; s.stopped = False
    def url(s, auth=True): return f"amqp://fed:{PW}@127.0.0.1:{s.amqp}/%2f" if auth else None
    def start(s, first=False):
        if first: shutil.rmtree(f"/tmp/rabbitmq-{s.name}", ignore_errors=True)
        r = subprocess.run(["bash", NODE_SH, "start", s.name, str(s.amqp), str(s.mgmt), str(s.dist)], capture_output=True, text=True)
        if r.returncode != 0: log(f"{s.name} start failed: {r.stderr[-500:]}"); raise SystemExit(1)
        s.pid = int(open(f"/tmp/rabbitmq-{s.name}/pid").read().strip())
        if first:
            s.ctl("add_user", "fed", PW); s.ctl("set_user_tags", "fed", "management")
            s.ctl("set_permissions", "-p", "/", "fed", ".*", ".*", ".*")
        log(f"{s.name} up pid {s.pid}")
    def ctl(s, *args):
        return subprocess.run(["bash", NODE_SH, "ctl", s.name, *args], capture_output=True, text=True).stdout
    def kill9(s): os.kill(s.pid, signal.SIGKILL); s.wait_gone()
    def wait_gone(s):
        for _ in range(200):
            if not alive(s.pid): return
            time.sleep(0.1)
    def stop_final(s):
        if s.stopped: os.kill(s.pid, signal.SIGCONT)
        os.kill(s.pid, signal.SIGTERM); s.wait_gone()
        port = open(f"/tmp/rabbitmq-{s.name}/epmd-port").read().strip()
        subprocess.run(["epmd", "-port", port, "-kill"], capture_output=True)

class Nats:
    def __init__(s, name, port, mport):
        s.name, s.port, s.mport = name, port, mport; s.proc = None; s.stopped = False
        s.dir = f"{ROOT}/{name}-store"
    def url(s, auth=True): return f"nats://federator:{PW}@127.0.0.1:{s.port}" if auth else f"nats://127.0.0.1:{s.port}"
    @property
    def pid(s): return s.proc.pid
    def start(s, first=False):
        s.proc = subprocess.Popen(["nats-server", "-a", "127.0.0.1", "-p", str(s.port), "-m", str(s.mport), "-n", s.name,
                                   "-js", "-sd", s.dir, "--user", "federator", "--pass", PW],
                                  stdout=open(f"{ROOT}/{s.name}.log", "a"), stderr=subprocess.STDOUT)
        for _ in range(100):
            try: urllib.request.urlopen(f"http://127.0.0.1:{s.mport}/healthz?js-enabled-only=true", timeout=1); break
            except Exception: time.sleep(0.2)
        log(f"{s.name} up pid {s.pid}")
    def kill9(s): s.proc.kill(); s.proc.wait()
    def stop_final(s):
        if s.stopped: os.kill(s.pid, signal.SIGCONT)
        s.proc.terminate(); s.proc.wait(timeout=30)

class Host:
    def __init__(s, port): s.port, s.proc, s.dir, s.incarnations = port, None, f"{ROOT}/host", 0
    def start(s):
        s.proc = subprocess.Popen(["dotnet", DLL, "--contentRoot", s.dir,
                                   "--Logging:Console:FormatterOptions:TimestampFormat=HH:mm:ss.fff "],
                                  stdout=open(f"{ROOT}/host.log", "a"), stderr=subprocess.STDOUT)
        s.incarnations += 1
        log(f"host up pid {s.proc.pid}")
    @property
    def pid(s): return s.proc.pid
    def kill9(s): s.proc.kill(); s.proc.wait()
    def term(s):
        s.proc.terminate()
        try: rc = s.proc.wait(timeout=60)
        except subprocess.TimeoutExpired: log("HOST DID NOT EXIT 60 s AFTER SIGTERM"); s.proc.kill(); rc = s.proc.wait()
        return rc
    def get(s, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{s.port}{path}", timeout=5) as r: return r.status, r.read().decode()
        except urllib.error.HTTPError as e: return e.code, e.read().decode()
        except Exception as e: return None, str(e)

# ---- setup ----
P = {"amqp": dict(up=(5801, 15801, 25801), down=(5802, 15802, 25811), host=15791),
     "js": dict(up=(14301, 18301), down=(14302, 18302), host=15792),
     "amqp-js": dict(up=(5803, 15803, 25821), down=(14303, 18303), host=16793),
     "amqp-nats": dict(up=(5811, 15811, 25831), down=(14311, 18311), host=16794),
     "nats-amqp": dict(up=(14312, 18312), down=(5812, 15812, 25841), host=16795),
     "js-amqp": dict(up=(14313, 18313), down=(5813, 15813, 25851), host=16796)}[SETUP]
def port_free(port):
    with socket.socket() as probe:
        try: probe.bind(("127.0.0.1", port)); return True
        except OSError: return False
busy = [p for group in P.values() for p in (group if isinstance(group, tuple) else (group,)) if not port_free(p)]
for group in (P["up"], P["down"]):
    if len(group) == 3 and not port_free(group[2] + 1): busy.append(group[2] + 1)   # epmd
if busy: sys.exit(f"ports in use: {busy}; edit P in {__file__}")
if SETUP == "amqp":
    up, down = Rabbit("soak-up1", *P["up"]), Rabbit("soak-down1", *P["down"])
    exchange = "federated.orders"
elif SETUP == "js":
    up, down = Nats("soak-js-up", *P["up"]), Nats("soak-js-down", *P["down"])
    exchange = "orders"
elif SETUP == "amqp-js":
    up, down = Rabbit("soak-up3", *P["up"]), Nats("soak-js-down3", *P["down"])
    exchange = "orders"
elif SETUP == "amqp-nats":
    up, down = Rabbit("soak-up4", *P["up"]), Nats("soak-nats-down4", *P["down"])
    exchange = "orders"
elif SETUP == "nats-amqp":
    up, down = Nats("soak-nats-up5", *P["up"]), Rabbit("soak-down5", *P["down"])
    exchange = "orders"
else:
    up, down = Nats("soak-js-up6", *P["up"]), Rabbit("soak-down6", *P["down"])
    exchange = "orders"
CORE = SETUP in ("amqp-nats", "nats-amqp")   # the NATS side is core NATS (no jetstream=true)
host = Host(P["host"])
os.makedirs(host.dir)
os.environ["NATS_USER"], os.environ["NATS_PASS"] = "federator", PW

def upstream_uri():
    if isinstance(up, Rabbit): return f"{up.url()}?management-port={up.mgmt}"
    return f"{up.url()}?cluster-name={up.name}" + ("" if CORE else "&jetstream=true")
def downstream_uri():
    if isinstance(down, Rabbit): return f"{down.url()}?management-port={down.mgmt}"
    return f"{down.url()}?cluster-name={down.name}&monitor-port={down.mport}&namespaces={exchange}" + ("" if CORE else "&jetstream=true")

config_state = {"priority": 10, "prefetch": 1000}
def write_config():
    pattern = "^federated\\." if exchange.startswith("federated.") else f"^{exchange}$"
    cfg = {"Logging": {"LogLevel": {"Default": "Information", "Microsoft.AspNetCore": "Warning"}},
           "Host": {"Url": f"http://127.0.0.1:{host.port}", "CreateInMemoryBrokers": False},
           "Federation": {
               "Downstream": {"uri": downstream_uri()},
               "Upstreams": {"up": {"uri": upstream_uri(), "max-hops": 1, "ack-mode": "on-confirm",
                                     "prefetch-count": config_state["prefetch"], "resource-cleanup-mode": "never"}},
               "Policies": {"exchange-federation": {"pattern": pattern, "apply-to": "exchanges",
                                                    "priority": config_state["priority"],
                                                    "definition": {"federation-upstream-set": "all"}}}}}
    tmp = f"{host.dir}/appsettings.json.tmp"
    with open(tmp, "w") as f: json.dump(cfg, f, indent=2)
    os.replace(tmp, f"{host.dir}/appsettings.json")

up.start(first=True); down.start(first=True)
write_config()
node = lambda *a: subprocess.Popen(["node", *a], cwd=INTEROP, stdout=open(f"{ROOT}/{a[0]}.log", "a"), stderr=subprocess.STDOUT)
# consumer first: on AMQP it declares the downstream exchange and its queue
if isinstance(down, Rabbit):
    consumer = node("soak-consume-amqp.mjs", down.url(), exchange, "soak.received", f"{ROOT}/received.txt")
elif CORE:   # a core subscriber is the interest the link federates: it must be there before the link
    consumer = node("cross-consume-nats.mjs", down.url(False), f"{exchange}.>", f"{ROOT}/received.txt")
else:
    consumer = None
host.start()
stream = None if isinstance(down, Rabbit) or CORE else ("federation-" + exchange)

def links():
    st, body = host.get("/federation/links")
    try: return json.loads(body) if st == 200 else []
    except Exception: return []
def wait_running(timeout=180):
    t0 = time.time()
    while time.time() - t0 < timeout:
        l = links()
        if l and all(x["state"] == "running" for x in l): return time.time() - t0
        time.sleep(0.5)
    return None

w = wait_running(); log(f"link running after {w}")
if consumer is None:
    consumer = node("soak-consume-jetstream.mjs", down.url(False), stream, f"{ROOT}/received.txt")
if isinstance(up, Rabbit):
    publisher = node("soak-publish-amqp.mjs", up.url(), exchange, str(RATE), f"{ROOT}/sent.txt")
elif CORE:
    time.sleep(3)   # core NATS keeps nothing: the link's upstream subscription must exist before the first publish
    publisher = node("cross-publish-nats.mjs", up.url(False), f"{exchange}.created", str(RATE), f"{ROOT}/sent.txt")
else:
    publisher = node("soak-publish-jetstream.mjs", up.url(False), f"{exchange}.created", str(RATE), f"{ROOT}/sent.txt", "federation-" + exchange)

# ---- monitor ----
MON = open(f"{ROOT}/monitor.log", "a", buffering=1)
stop_monitor = False
def monitor():
    while not stop_monitor:
        st, h = host.get("/health")
        try: hs = json.loads(h)["status"] if st else "unreachable"
        except Exception: hs = f"?{st}"
        l = links()
        states = ",".join(f"{x['state']}" + (f"({(x.get('error') or '')[:80]})" if x.get("error") else "") for x in l)
        rss = thr = "-"
        try:
            for line in open(f"/proc/{host.pid}/status"):
                if line.startswith("VmRSS"): rss = line.split()[1]
                if line.startswith("Threads"): thr = line.split()[1]
        except Exception: pass
        MON.write(f"{time.strftime('%H:%M:%S', time.gmtime())} pid={host.pid} health={st}/{hs} rss_kb={rss} threads={thr} links=[{states}]\n")
        time.sleep(5)
threading.Thread(target=monitor, daemon=True).start()

time.sleep(float(os.environ.get("WARMUP", "30")))
# ---- chaos ----
faults = []
def fault(kind):
    faults.append(kind); log(f"FAULT {len(faults)}: {kind}")
    if kind == "kill9-up":
        up.kill9(); time.sleep(random.uniform(0, 5)); up.start()
    elif kind == "kill9-down":
        down.kill9(); time.sleep(random.uniform(0, 5)); down.start()
    elif kind == "kill9-host":
        host.kill9(); time.sleep(random.uniform(0, 3)); host.start()
    elif kind == "term-host":
        t0 = time.time(); rc = host.term(); log(f"host exited {rc} {time.time()-t0:.1f} s after SIGTERM"); time.sleep(random.uniform(0, 3)); host.start()
    elif kind in ("stop-up", "stop-down"):
        b = up if kind == "stop-up" else down
        d = random.uniform(5, 40); log(f"SIGSTOP {b.name} for {d:.0f} s")
        os.kill(b.pid, signal.SIGSTOP); b.stopped = True; time.sleep(d); os.kill(b.pid, signal.SIGCONT); b.stopped = False
    elif kind == "reload-harmless":
        config_state["priority"] = 21 - config_state["priority"]; write_config(); log(f"policy priority -> {config_state['priority']}")
    elif kind == "reload-restart":
        config_state["prefetch"] = 1900 - config_state["prefetch"]; write_config(); log(f"prefetch-count -> {config_state['prefetch']}")
KINDS = ["kill9-up", "kill9-down", "kill9-host", "stop-up", "stop-down", "term-host", "reload-harmless", "reload-restart"]
if os.environ.get("KINDS"): KINDS = os.environ["KINDS"].split(",")
t_end = time.time() + MINUTES * 60
order = []
while time.time() < t_end:
    if not order: order = KINDS[:]; random.shuffle(order)   # every kind once per round, random order
    fault(order.pop())
    time.sleep(random.uniform(5, 30))
log(f"chaos over: {len(faults)} faults")
# ---- settle ----
w = wait_running(300); log(f"every link running {w} s after the last fault")
time.sleep(float(os.environ.get("SETTLE", "60")))
publisher.send_signal(signal.SIGTERM); publisher.wait(timeout=120)
log("publisher stopped")
def lines(path):
    try: return sum(1 for _ in open(path))
    except FileNotFoundError: return 0
last, stable_since = -1, time.time()
t0 = time.time()
while time.time() - t0 < 600:
    n = lines(f"{ROOT}/received.txt")
    if n != last: last, stable_since = n, time.time()
    elif time.time() - stable_since > 45: break
    time.sleep(2)
log(f"received lines stable at {last}")
stop_monitor = True
# ---- after-soak checks ----
final = {}
final["health"] = host.get("/health"); final["links"] = host.get("/federation/links"); final["traffic"] = host.get("/federation/links/traffic")
st, m = host.get("/metrics"); final["metrics"] = "\n".join(l for l in m.splitlines() if l.startswith("federation_")) if st else m
try:
    final["proc"] = {l.split(":")[0]: l.split(":")[1].strip() for l in open(f"/proc/{host.pid}/status") if l.split(":")[0] in ("VmRSS", "Threads", "VmHWM")}
except Exception as e: final["proc"] = str(e)
for name, b in (("up", up), ("down", down)):
    if isinstance(b, Rabbit):
        final[f"{name}-queues"] = b.ctl("list_queues", "name", "messages", "messages_unacknowledged", "consumers", "durable")
        final[f"{name}-consumers"] = b.ctl("list_consumers", "queue_name", "channel_pid", "prefetch_count")
        final[f"{name}-connections"] = b.ctl("list_connections", "name", "client_properties")[:3000]
        final[f"{name}-exchanges"] = b.ctl("list_exchanges", "name", "type", "internal")
    else:
        for path in ("/jsz?streams=true&consumers=true", "/connz", "/subsz?subs=true"):
            try: final[f"{name}{path}"] = urllib.request.urlopen(f"http://127.0.0.1:{b.mport}{path}", timeout=5).read().decode()
            except Exception as e: final[f"{name}{path}"] = str(e)
if stream:
    r = subprocess.run(["node", "soak-dump-jetstream.mjs", down.url(False), stream], cwd=INTEROP, capture_output=True, text=True)
    open(f"{ROOT}/stream-dump.txt", "w").write(r.stdout); final["dump"] = r.stderr
json.dump(final, open(f"{ROOT}/final.json", "w"), indent=1)
json.dump({"faults": faults, "host_incarnations": host.incarnations}, open(f"{ROOT}/faults.json", "w"))
# ---- stop everything we started ----
consumer.send_signal(signal.SIGTERM); consumer.wait(timeout=30)
rc = host.term(); log(f"host final SIGTERM exit {rc}")
up.stop_final(); down.stop_final()
for b in (up, down):
    if isinstance(b, Rabbit): shutil.rmtree(f"/tmp/rabbitmq-{b.name}", ignore_errors=True)
log("all stopped")
subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "analyze.py"), ROOT])
