#!/usr/bin/env bash
# End-to-end comparison on two real RabbitMQ nodes started for this run (loopback, free ports, temp dirs):
# the same load (on-confirm, 256-byte messages) through RabbitMQ's own federation plugin and through a Federation.Core
# link, measured in one run: ROUNDS rounds, each measuring both paths in alternating order. Prints msgs/s, p50 and p99
# latency and the CPU time spent per message (both brokers plus the load-generator process that hosts our link) for
# both, per round and as medians, and the ratios of the medians.
# Usage: benchmarks/amqp-link-vs-plugin.sh [MESSAGES] [ROUNDS]     (needs rabbitmq-server installed; see .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."
messages=${1:-20000} rounds=${2:-5}
node=examples/FederationHost/scripts/local-rabbitmq-node.sh
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
up="bench-up-$$" down="bench-down-$$"
read -r up_amqp up_mgmt down_amqp down_mgmt < <(echo "$(free_port) $(free_port) $(free_port) $(free_port)")
up_dist=$(( (RANDOM % 2000) * 2 + 40000 )) down_dist=$(( up_dist + 2 ))   # each node's epmd takes DIST_PORT+1
trap '$node stop "$down" >/dev/null 2>&1 || true; $node stop "$up" >/dev/null 2>&1 || true' EXIT
$node start "$up" "$up_amqp" "$up_mgmt" "$up_dist"
$node start "$down" "$down_amqp" "$down_mgmt" "$down_dist"

# The plugin's side: configured on the downstream node with rabbitmqctl, exactly as an operator would.
ctl() { HOME=/tmp/rabbitmq-$down RABBITMQ_NODENAME=$down@localhost ERL_EPMD_PORT=$((down_dist + 1)) /usr/lib/rabbitmq/bin/rabbitmqctl -n "$down@localhost" "$@" >/dev/null; }
ctl set_parameter federation-upstream bench-up "{\"uri\":\"amqp://guest:guest@127.0.0.1:$up_amqp\",\"ack-mode\":\"on-confirm\",\"prefetch-count\":1000}"
ctl set_policy bench-plugin '^bench\.plugin$' '{"federation-upstream":"bench-up"}' --apply-to exchanges

dotnet run -c Release --project benchmarks/Federation.EndToEnd -- \
  "amqp://guest:guest@127.0.0.1:$up_amqp/%2f?management-port=$up_mgmt" \
  "amqp://guest:guest@127.0.0.1:$down_amqp/%2f?management-port=$down_mgmt" \
  "$messages" "$rounds" "$(cat /tmp/rabbitmq-$up/pid)" "$(cat /tmp/rabbitmq-$down/pid)"
