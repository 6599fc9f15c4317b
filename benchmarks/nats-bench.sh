#!/usr/bin/env bash
# NATS benchmarks on real nats-servers started for this run (loopback, free ports, a temp dir, stopped by pid).
# One run measures, in interleaved rounds, with medians and ratios against a reference from the same run:
#  (a) core forwarding hub -> leaf between two servers joined by a leafnode connection: native leafnode forwarding
#      against our link (no-ack and on-confirm): msgs/s saturated, p50/p99 paced at a steady rate below saturation,
#      CPU per 100k messages (both servers + the benchmark process, which hosts the load generator and the link), and
#      lost messages (counted, always printed);
#  (b) durable forwarding hub -> leaf, the same two servers with JetStream in domains "hub" and "leaf": native stream
#      sourcing (a stream on the leaf sources a stream on the hub through $JS.hub.API) against our durable link
#      (URI key jetstream=true; its URIs come from NATSBENCH_DURABLE_UPSTREAM_URI / NATSBENCH_DURABLE_DOWNSTREAM_URI);
#  (c) raw pub/sub on a third server: the official NATS.Client.Core client (and the hand-written one while its code
#      exists) against the npm "nats" client.
#
# Usage: benchmarks/nats-bench.sh [MESSAGES [WINDOW [ROUNDS]]] [OPTIONS]
#   MESSAGES  per saturated core run (default 100000)      WINDOW  most messages in flight (default 10000)
#   ROUNDS    interleaved rounds (default 3)
#   --acceptance           the issue's load: 500000 x 256 B, window 10000, 5 rounds
#   --size BYTES           message size (default 256)
#   --paced-rate N         msg/s of the paced latency runs (default 5000)
#   --paced-messages N     messages per paced run (default 10000, 2 s at 5000 msg/s)
#   --durable-messages N   messages per durable run (default 50000)
#   --parts LIST           any of raw,core,durable (default all three)
# Environment for (b), placeholders {hub-port} {leaf-port} {hub-monitor-port} {leaf-monitor-port}:
#   NATSBENCH_DURABLE_UPSTREAM_URI    default nats://127.0.0.1:{hub-port}?cluster-name=bench-hub&namespaces=durable&jetstream=true
#   NATSBENCH_DURABLE_DOWNSTREAM_URI  default nats://127.0.0.1:{leaf-port}?cluster-name=bench-leaf&monitor-port={leaf-monitor-port}&monitor-interval-ms=100&namespaces=durable&jetstream=true
#   NATSBENCH_DURABLE_UPSTREAM_STREAM if set, the bench creates this stream (subjects durable.>) on the hub for the link
# Exit status 3: the durable link was not available (the run still prints everything else, and says why).
# Needs nats-server (2.9.10 here), node, and `npm ci` in tests/interop.
set -euo pipefail
cd "$(dirname "$0")/.."
command_line="benchmarks/nats-bench.sh $*"
positional=()
options=()
while [ $# -gt 0 ]; do
  case "$1" in
    --acceptance) positional=(500000 10000 5); shift ;;
    --size|--paced-rate|--paced-messages|--durable-messages|--parts)
      [ $# -ge 2 ] || { echo "$1 needs a value" >&2; exit 64; }
      options+=("$1" "$2"); shift 2 ;;
    --*) echo "unknown option $1 (see the header of $0)" >&2; exit 64 ;;
    *) positional+=("$1"); shift ;;
  esac
done
messages=${positional[0]:-100000}
window=${positional[1]:-10000}
rounds=${positional[2]:-3}
nats=${NATS_SERVER_BIN:-$(command -v nats-server || echo /usr/sbin/nats-server)}
[ -x "$nats" ] || { echo "nats-server not found (set NATS_SERVER_BIN)" >&2; exit 1; }
[ -d tests/interop/node_modules/nats ] || { echo "run 'npm ci' in tests/interop first" >&2; exit 1; }
# N distinct free ports at once: sockets held open together, so the kernel cannot hand the same port out twice.
free_ports() { python3 -c 'import socket,sys; s=[socket.socket() for _ in range(int(sys.argv[1]))]; [x.bind(("127.0.0.1",0)) for x in s]; print(" ".join(str(x.getsockname()[1]) for x in s)); [x.close() for x in s]' "$1"; }

echo "date:    $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "commit:  $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
echo "command: $command_line"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $("$nats" --version)"

dir=$(mktemp -d -t nats-bench.XXXXXX)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT

read -r single hub hub_leaf hub_mon leaf leaf_mon < <(free_ports 6)
# JetStream in its own domain on each side: the leafnode then keeps $JS.API.> local, and each side's API is reachable
# from the other as $JS.<domain>.API.> (what native sourcing uses).
cat >"$dir/hub.conf" <<CONF
server_name: bench-hub
jetstream { store_dir: "$dir/hub-js", domain: hub }
leafnodes { listen: "127.0.0.1:$hub_leaf" }
CONF
# The leafnode carries only "leaf.>" traffic (and JetStream's own): our links' namespaces are denied both ways, so
# every benchmark message takes exactly one path (and a link's own republishing does not flow back to the hub).
cat >"$dir/leaf.conf" <<CONF
server_name: bench-leaf
jetstream { store_dir: "$dir/leaf-js", domain: leaf }
leafnodes {
  remotes = [ { url: "nats-leaf://127.0.0.1:$hub_leaf", deny_imports: ["ours.>", "confirm.>", "floor.>", "durable.>"], deny_exports: ["ours.>", "confirm.>", "floor.>", "durable.>"] } ]
}
CONF
start() { # name, args...
  local name=$1; shift
  "$nats" -a 127.0.0.1 "$@" >"$dir/$name.log" 2>&1 &
  pids+=($!)
}
start single -p "$single" -n bench-single
start hub -p "$hub" -m "$hub_mon" -c "$dir/hub.conf"
start leaf -p "$leaf" -m "$leaf_mon" -c "$dir/leaf.conf"

for _ in $(seq 1 150); do   # up to 15 s for the leafnode connection
  grep -q "Leafnode connection created" "$dir/leaf.log" 2>/dev/null && break
  sleep 0.1
done
grep -q "Leafnode connection created" "$dir/leaf.log" || { echo "leafnode did not connect:" >&2; cat "$dir"/*.log >&2; exit 1; }

dotnet build -c Release benchmarks/Federation.NatsBench >"$dir/build.log" 2>&1 || { cat "$dir/build.log" >&2; exit 1; }
status=0
NATSBENCH_BROKER_PIDS="${pids[1]},${pids[2]}" NATSBENCH_CLK_TCK=$(getconf CLK_TCK) \
  dotnet run -c Release --no-build --project benchmarks/Federation.NatsBench -- \
  --single "nats://127.0.0.1:$single" --hub "nats://127.0.0.1:$hub" --leaf "nats://127.0.0.1:$leaf" \
  --hub-port "$hub" --leaf-port "$leaf" --hub-monitor-port "$hub_mon" --leaf-monitor-port "$leaf_mon" --hub-domain hub \
  --driver tests/interop/nats-pubsub-bench.mjs --messages "$messages" --window "$window" --rounds "$rounds" \
  ${options[@]+"${options[@]}"} || status=$?
# What the servers said about slow consumers: a drop there is the server's, not the link's.
for name in hub leaf; do
  n=$(grep -ci "slow consumer" "$dir/$name.log" || true)
  echo "server $name: $n slow-consumer log lines"
done
exit $status
