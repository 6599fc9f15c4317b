#!/usr/bin/env bash
# End-to-end comparison on two real RabbitMQ nodes started for this run (loopback, free ports, temp dirs):
# the same load (on-confirm, 256-byte messages) through RabbitMQ's own federation plugin, through a Federation.Core link
# in the load generator's process, and through a FederationHost process (the link as deployed), measured in one run:
# ROUNDS rounds, each measuring every path saturated (MESSAGES) and paced at each of RATES msg/s (PACED_SECONDS each),
# in an order that rotates from round to round. Prints msgs/s, p50 and p99 latency and the CPU time per 100k messages
# of the brokers, of the FederationHost process and of the load generator, per round and as medians, and the ratios of
# the medians against the plugin.
# Usage: benchmarks/amqp-link-vs-plugin.sh [MESSAGES] [ROUNDS] [RATES] [PACED_SECONDS]
#        defaults 20000 3 1000,5000,10000 4     (needs rabbitmq-server installed; see .ci/run)
#        Further arguments go to the load generator, e.g. --paths host to profile the FederationHost path alone.
#        BENCH_DUPLICATE_SUPPRESSION=false runs both of our paths without duplicate suppression (the default is on), so
#        that they promise what the plugin promises (at-least-once) and nothing more.
set -euo pipefail
cd "$(dirname "$0")/.."
messages=${1:-20000} rounds=${2:-3} rates=${3:-1000,5000,10000} paced_seconds=${4:-4}
node=examples/FederationHost/scripts/local-rabbitmq-node.sh
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
# N distinct free ports at once: sockets held open together, so the kernel cannot hand the same port out twice.
free_ports() { python3 -c 'import socket,sys; s=[socket.socket() for _ in range(int(sys.argv[1]))]; [x.bind(("127.0.0.1",0)) for x in s]; print(" ".join(str(x.getsockname()[1]) for x in s)); [x.close() for x in s]' "$1"; }
up="bench-up-$$" down="bench-down-$$"
read -r up_amqp up_mgmt down_amqp down_mgmt < <(free_ports 4)
# Each node's epmd takes DIST_PORT+1, so the distribution ports come as pairs, both free, below the ephemeral range
# (32768 and up) where a client socket could take one between this check and the node's start.
free_pair() { python3 -c '
import random, socket
def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); return True
    except OSError:
        return False
    finally:
        s.close()
while True:
    p = random.randrange(20000, 32000, 4)
    if all(free(p + i) for i in range(4)):
        print(p); break'; }
up_dist=$(free_pair) down_dist=$(( up_dist + 2 ))
host_dir=$(mktemp -d) host_pid=""
cleanup() {
  [ -n "$host_pid" ] && kill "$host_pid" 2>/dev/null && while kill -0 "$host_pid" 2>/dev/null; do sleep 0.2; done
  $node stop "$down" >/dev/null 2>&1 || true; $node stop "$up" >/dev/null 2>&1 || true; rm -rf "$host_dir"
}
trap cleanup EXIT
echo "$(date -u '+%F %T') UTC, commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
dotnet build -c Release examples/FederationHost/FederationHost.csproj -v q -nologo >/dev/null
dotnet build -c Release benchmarks/Federation.EndToEnd/Federation.EndToEnd.csproj -v q -nologo >/dev/null
$node start "$up" "$up_amqp" "$up_mgmt" "$up_dist"
$node start "$down" "$down_amqp" "$down_mgmt" "$down_dist"

# The plugin's side: configured on the downstream node with rabbitmqctl, exactly as an operator would.
ctl() { HOME=/tmp/rabbitmq-$down RABBITMQ_NODENAME=$down@localhost ERL_EPMD_PORT=$((down_dist + 1)) /usr/lib/rabbitmq/bin/rabbitmqctl -n "$down@localhost" "$@" >/dev/null; }
ctl set_parameter federation-upstream bench-up "{\"uri\":\"amqp://guest:guest@127.0.0.1:$up_amqp\",\"ack-mode\":\"on-confirm\",\"prefetch-count\":1000}"
ctl set_policy bench-plugin '^bench\.plugin$' '{"federation-upstream":"bench-up"}' --apply-to exchanges

up_uri="amqp://guest:guest@127.0.0.1:$up_amqp/%2f?management-port=$up_mgmt"
down_uri="amqp://guest:guest@127.0.0.1:$down_amqp/%2f?management-port=$down_mgmt"

# FederationHost as deployed: its own process, configured from its own appsettings.json (federating bench.host only),
# warnings-only logging; the benchmark reads its CPU from /proc/<pid>/stat.
cat > "$host_dir/appsettings.json" <<JSON
{
  "Logging": { "LogLevel": { "Default": "Warning" } },
  "Host": { "Url": "http://127.0.0.1:$(free_port)", "CreateInMemoryBrokers": false },
  "Federation": {
    "Downstream": { "uri": "$down_uri" },
    "Upstreams": { "bench-up": { "uri": "$up_uri", "ack-mode": "on-confirm", "prefetch-count": 1000, "duplicate-suppression": ${BENCH_DUPLICATE_SUPPRESSION:-true} } },
    "Policies": { "bench-host": { "pattern": "^bench\\\\.host\$", "apply-to": "exchanges", "definition": { "federation-upstream": "bench-up" } } }
  }
}
JSON
# BENCH_HOST_ENV="NAME=VALUE ..." sets runtime knobs for the FederationHost process only (an experiment aid).
env ${BENCH_HOST_ENV:-} examples/FederationHost/bin/Release/net10.0/FederationHost --contentRoot "$host_dir" >"$host_dir/host.log" 2>&1 &
host_pid=$!
echo "FederationHost pid $host_pid (log $host_dir/host.log); duplicate suppression on our paths: ${BENCH_DUPLICATE_SUPPRESSION:-true}"

suppression_flag=()
[ "${BENCH_DUPLICATE_SUPPRESSION:-true}" = false ] && suppression_flag=(--no-duplicate-suppression)
dotnet benchmarks/Federation.EndToEnd/bin/Release/net10.0/Federation.EndToEnd.dll "$up_uri" "$down_uri" "$messages" "$rounds" \
  --broker-pid "$(cat /tmp/rabbitmq-$up/pid)" --broker-pid "$(cat /tmp/rabbitmq-$down/pid)" --host-pid "$host_pid" \
  --rates "$rates" --paced-seconds "$paced_seconds" "${suppression_flag[@]}" "${@:5}"
kill -0 "$host_pid" 2>/dev/null || { echo "FederationHost exited early:" >&2; cat "$host_dir/host.log" >&2; exit 1; }
# The host logs warnings only: anything here (a link restart, a lost connection) explains an outlying round.
if [ -s "$host_dir/host.log" ]; then echo; echo "FederationHost log (warnings and errors, last 60 lines):"; tail -n 60 "$host_dir/host.log"; fi
