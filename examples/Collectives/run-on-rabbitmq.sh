#!/usr/bin/env bash
# Runs the Collectives example over RabbitMQ: starts a throwaway rabbitmq-server node (its own temporary directory, free
# loopback ports, its own epmd, no plugins), gives the federation and each collective a vhost of their own (isolated
# namespaces, as separate servers would be), runs the example against amqp:// URIs, and stops exactly that node by its
# name and pid file (and its epmd by port), whatever the outcome.
# Usage: bash examples/Collectives/run-on-rabbitmq.sh [--no-build] [extra example arguments, e.g. --Example:PrintMetrics=true]
# Needs rabbitmq-server 3.10 or later (Debian/Ubuntu: apt-get install rabbitmq-server; `bash scripts/test.sh` installs it).
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PATH:/usr/sbin"

build=()
if [ "${1:-}" = "--no-build" ]; then build=(--no-build); shift; fi

source scripts/lib/rabbitmq-node.sh
trap rabbitmq_node_stop EXIT

echo "== starting a RabbitMQ node on loopback"
rabbitmq_node_start collectives '[]'
echo "== RabbitMQ node up on 127.0.0.1:$amqp_port (data in $rabbitmq_dir)"

for vhost in federation london tokyo newyork; do
  ctl add_vhost "$vhost" >/dev/null
  ctl set_permissions -p "$vhost" guest '.*' '.*' '.*' >/dev/null
done

uri="amqp://guest:guest@127.0.0.1:$amqp_port"
echo "== collectives example over RabbitMQ (amqp://127.0.0.1:$amqp_port, vhosts federation, london, tokyo, newyork)"
dotnet run -c Release "${build[@]}" --project examples/Collectives -- \
  --Example:FederationUri="$uri/federation" \
  --Example:Collectives:london:Uri="$uri/london" \
  --Example:Collectives:tokyo:Uri="$uri/tokyo" \
  --Example:Collectives:newyork:Uri="$uri/newyork" \
  "$@"
