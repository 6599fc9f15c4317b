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

# /usr/lib/rabbitmq/bin runs as the current user, unlike the /usr/sbin wrappers.
bin="${RABBITMQ_BIN_DIR:-/usr/lib/rabbitmq/bin}"
[ -x "$bin/rabbitmq-server" ] || bin="$(dirname "$(command -v rabbitmq-server 2>/dev/null || echo /nonexistent/x)")"
if [ ! -x "$bin/rabbitmq-server" ] || [ ! -x "$bin/rabbitmqctl" ]; then
  echo "run-on-rabbitmq.sh: rabbitmq-server is not installed (Debian/Ubuntu: apt-get install rabbitmq-server, or set RABBITMQ_BIN_DIR)" >&2
  exit 2
fi

# A port nothing listens on, among ports no other call here picked.
picked=" "
free_port() {
  local port
  while true; do
    port=$((20000 + RANDOM % 40000))
    case "$picked" in *" $port "*) continue ;; esac
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then picked="$picked$port "; echo "$port"; return; fi
  done
}

dir="$(mktemp -d -t collectives-rabbitmq-XXXXXX)"
amqp_port=$(free_port); dist_port=$(free_port); epmd_port=$(free_port)
node="collectives$$@localhost"
printf 'listeners.tcp.default = %s\nloopback_users = none\nlog.console = false\n' "$amqp_port" > "$dir/rabbitmq.conf"
echo '[].' > "$dir/enabled_plugins"
: > "$dir/rabbitmq-env.conf"
export HOME="$dir" RABBITMQ_NODENAME="$node" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$amqp_port" \
  RABBITMQ_DIST_PORT="$dist_port" ERL_EPMD_PORT="$epmd_port" RABBITMQ_MNESIA_BASE="$dir/mnesia" RABBITMQ_LOG_BASE="$dir/log" \
  RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf" \
  RABBITMQ_ADVANCED_CONFIG_FILE="$dir/advanced.config" RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf" RABBITMQ_PID_FILE="$dir/rabbitmq.pid"
ctl() { "$bin/rabbitmqctl" -n "$node" "$@"; }

cleanup() {
  ctl stop >/dev/null 2>&1 || true
  if [ -s "$dir/rabbitmq.pid" ]; then
    pid="$(cat "$dir/rabbitmq.pid")"
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  epmd -port "$epmd_port" -kill >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

echo "== starting a RabbitMQ node on 127.0.0.1:$amqp_port (data in $dir)"
"$bin/rabbitmq-server" -detached
# await_startup fails at once until the node registered with epmd: retry it for up to two minutes.
for attempt in $(seq 1 120); do
  if ctl await_startup --timeout 60 >/dev/null 2>&1; then break; fi
  if [ "$attempt" -eq 120 ]; then echo "the RabbitMQ node did not start; logs in $dir/log" >&2; exit 1; fi
  sleep 1
done

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
