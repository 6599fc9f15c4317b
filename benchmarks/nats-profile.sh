#!/usr/bin/env bash
# Profiles a NATS link under the benchmark's saturated load, on throwaway nats-servers (hub and leaf, joined by a
# leafnode connection as in nats-bench.sh; loopback, free ports, a temp dir, stopped by pid). The link runs in its own
# process (benchmarks/Federation.NatsProfile host), the load generator in another, so the trace holds the link's work
# and nothing of the load generator's.
#
# Usage: benchmarks/nats-profile.sh PATH [SECONDS [OUT]]
#   PATH     ours (core link, no-ack) | confirm (core link, on-confirm) | durable (JetStream link)
#   SECONDS  how long to trace, after one warm-up run (default 20)
#   OUT      the trace file (default /tmp/nats-profile-PATH.nettrace); a .speedscope.json is written beside it
# Needs dotnet-trace (and for COUNTERS=1 dotnet-counters) as global tools: dotnet tool install -g dotnet-trace.
# Environment: PROFILE=dotnet-sampled-thread-time (default), gc-verbose (allocation samples) or none (no tracer: only
# the per-message figures, for A/B runs), NATSPROFILE_BIN=path of a Federation.NatsProfile binary built aside (no build), COUNTERS=1 to
# print dotnet-counters (GC, allocation rate, lock contention) for the same window instead of tracing.
# NATSPROFILE_LOG_LEVEL=Information (or Debug, Trace) for more of the link process's log on stderr (default: warnings),
# which the script prints with the host's output at the end; a load run that loses messages prints where the gaps were.
set -euo pipefail
cd "$(dirname "$0")/.."
path=${1:?usage: $0 ours|confirm|durable [SECONDS [OUT]]}
seconds=${2:-20}
out=${3:-/tmp/nats-profile-$path.nettrace}
profile=${PROFILE:-dotnet-sampled-thread-time}
tools=${DOTNET_TOOLS:-$HOME/.dotnet/tools}
nats=${NATS_SERVER_BIN:-$(command -v nats-server || echo /usr/sbin/nats-server)}
# N distinct free ports at once: sockets held open together, so the kernel cannot hand the same port out twice.
free_ports() { python3 -c 'import socket,sys; s=[socket.socket() for _ in range(int(sys.argv[1]))]; [x.bind(("127.0.0.1",0)) for x in s]; print(" ".join(str(x.getsockname()[1]) for x in s)); [x.close() for x in s]' "$1"; }

dir=$(mktemp -d -t nats-profile.XXXXXX)
pids=()
cleanup() {
  exec 3>&- 2>/dev/null || true
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

read -r hub hub_leaf leaf leaf_mon < <(free_ports 4)
cat >"$dir/hub.conf" <<CONF
server_name: prof-hub
jetstream { store_dir: "$dir/hub-js", domain: hub }
leafnodes { listen: "127.0.0.1:$hub_leaf" }
CONF
cat >"$dir/leaf.conf" <<CONF
server_name: prof-leaf
jetstream { store_dir: "$dir/leaf-js", domain: leaf }
leafnodes {
  remotes = [ { url: "nats-leaf://127.0.0.1:$hub_leaf", deny_imports: ["ours.>", "confirm.>", "durable.>"], deny_exports: ["ours.>", "confirm.>", "durable.>"] } ]
}
CONF
"$nats" -a 127.0.0.1 -p "$hub" -c "$dir/hub.conf" >"$dir/hub.log" 2>&1 & pids+=($!)
"$nats" -a 127.0.0.1 -p "$leaf" -m "$leaf_mon" -c "$dir/leaf.conf" >"$dir/leaf.log" 2>&1 & pids+=($!)
for _ in $(seq 1 150); do grep -q "Leafnode connection created" "$dir/leaf.log" 2>/dev/null && break; sleep 0.1; done

if [ -n "${NATSPROFILE_BIN:-}" ]; then
  bin=$NATSPROFILE_BIN # a build kept aside (A/B runs of two commits against the same kind of servers)
else
  dotnet build -c Release benchmarks/Federation.NatsProfile >"$dir/build.log" 2>&1 || { cat "$dir/build.log" >&2; exit 1; }
  bin=benchmarks/Federation.NatsProfile/bin/Release/net10.0/Federation.NatsProfile
fi
kind=core; [ "$path" = durable ] && kind=durable
mkfifo "$dir/host.in"
"$bin" host "$kind" "nats://127.0.0.1:$hub" "nats://127.0.0.1:$leaf" "$leaf_mon" <"$dir/host.in" >"$dir/host.out" 2>&1 & host=$!
pids+=($host)
exec 3>"$dir/host.in"
for _ in $(seq 1 300); do grep -q READY "$dir/host.out" && break; sleep 0.1; done
grep -q READY "$dir/host.out" || { cat "$dir/host.out" >&2; exit 1; }

load() { # runs
  if [ "$kind" = durable ]; then
    NATSBENCH_BROKER_PIDS="${pids[0]},${pids[1]},$host" NATSPROFILE_LINK_PID=$host exec "$bin" load-durable "nats://127.0.0.1:$hub" "nats://127.0.0.1:$leaf" 50000 10000 "$1"
  else
    NATSBENCH_BROKER_PIDS="${pids[0]},${pids[1]},$host" NATSPROFILE_LINK_PID=$host exec "$bin" load "$path.k" "nats://127.0.0.1:$hub" "nats://127.0.0.1:$leaf" 200000 10000 "$1"
  fi
}
echo "load average $(cut -d' ' -f1-3 /proc/loadavg); warm-up:"
(load 1)
(load 1000) & loader=$!
pids+=($loader)
sleep 1
if [ "$profile" = none ]; then
  sleep "$seconds" # no tracer attached: the per-message figures the host prints are the link's alone
elif [ "${COUNTERS:-0}" = 1 ]; then
  "$tools/dotnet-counters" collect -p "$host" --duration "00:00:$(printf %02d "$seconds")" --format csv -o "$out.counters.csv" \
    --counters System.Runtime >/dev/null
  echo "counters: $out.counters.csv"
else
  "$tools/dotnet-trace" collect -p "$host" --profile "$profile" --duration "00:00:00:$(printf %02d "$seconds")" --format Speedscope -o "$out" >/dev/null
  echo "trace: $out (and $(basename "$out" .nettrace).speedscope.json)"
fi
kill "$loader" 2>/dev/null || true
wait "$loader" 2>/dev/null || true
exec 3>&-
wait "$host" || true
cat "$dir/host.out"
for name in hub leaf; do
  echo "server $name: $(grep -ci "slow consumer" "$dir/$name.log" || true) slow-consumer log lines"
done
