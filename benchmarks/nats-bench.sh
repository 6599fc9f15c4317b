#!/usr/bin/env bash
# NATS benchmarks on real nats-servers started for this run (loopback, free ports, a temp dir, stopped by pid):
#  (a) raw pub/sub on one server: our client (Federation.Nats) against the npm "nats" client (tests/interop);
#  (b) hub -> leaf forwarding between two servers joined by a leafnode connection: native leafnode forwarding
#      against our link (federation engine + NATS transport) between the same two servers.
# Everything is measured in one run; prints msgs/s, p50 and p99 for every path, and the ratios.
# Usage: benchmarks/nats-bench.sh [MESSAGES] [WINDOW] [ROUNDS]   (needs nats-server, node, and npm ci in tests/interop)
set -euo pipefail
cd "$(dirname "$0")/.."
messages=${1:-200000}
window=${2:-2000}
rounds=${3:-3}
nats=${NATS_SERVER_BIN:-$(command -v nats-server || echo /usr/sbin/nats-server)}
[ -x "$nats" ] || { echo "nats-server not found (set NATS_SERVER_BIN)" >&2; exit 1; }
[ -d tests/interop/node_modules/nats ] || { echo "run 'npm ci' in tests/interop first" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

dir=$(mktemp -d -t nats-bench.XXXXXX)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT

single=$(free_port) hub=$(free_port) hub_leaf=$(free_port) leaf=$(free_port) leaf_mon=$(free_port)
cat >"$dir/hub.conf" <<CONF
server_name: bench-hub
leafnodes { listen: "127.0.0.1:$hub_leaf" }
CONF
# The leafnode carries only "leaf.>" traffic: our link's namespaces are denied both ways, so every benchmark message
# takes exactly one path (and the link's own republishing does not flow back to the hub).
cat >"$dir/leaf.conf" <<CONF
server_name: bench-leaf
leafnodes {
  remotes = [ { url: "nats-leaf://127.0.0.1:$hub_leaf", deny_imports: ["ours.>", "confirm.>"], deny_exports: ["ours.>", "confirm.>"] } ]
}
CONF
start() { # name, args...
  local name=$1; shift
  "$nats" -a 127.0.0.1 "$@" >"$dir/$name.log" 2>&1 &
  pids+=($!)
}
start single -p "$single" -n bench-single
start hub -p "$hub" -c "$dir/hub.conf"
start leaf -p "$leaf" -m "$leaf_mon" -c "$dir/leaf.conf"

for _ in $(seq 1 150); do   # up to 15 s for the leafnode connection
  grep -q "Leafnode connection created" "$dir/leaf.log" 2>/dev/null && break
  sleep 0.1
done
grep -q "Leafnode connection created" "$dir/leaf.log" || { echo "leafnode did not connect:" >&2; cat "$dir"/*.log >&2; exit 1; }

dotnet run -c Release --project benchmarks/Federation.NatsBench -- \
  "nats://127.0.0.1:$single" "nats://127.0.0.1:$hub" "nats://127.0.0.1:$leaf" "$leaf_mon" \
  tests/interop/nats-pubsub-bench.mjs "$messages" "$window" "$rounds"
