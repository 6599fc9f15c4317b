# Sourced by the example scripts: a throwaway RabbitMQ node of their own, and free loopback ports.
#
#   source scripts/lib/rabbitmq-node.sh          # fails (exit 2) when rabbitmq-server is not installed
#   free_port VAR                                # a free loopback port for something of the script's own
#   rabbitmq_node_start NAME PLUGINS [CONF...]   # PLUGINS: an Erlang list such as '[]' or '[rabbitmq_management]';
#                                                # CONF: extra rabbitmq.conf lines. Sets rabbitmq_dir, amqp_port.
#   ctl ARGS...                                  # rabbitmqctl against that node
#   rabbitmq_node_stop                           # call it from the script's EXIT trap
#
# The node gets its own temporary directory, free loopback ports and its own epmd, so it never meets another node on
# the machine. It is stopped by its name and pid file (and its epmd by port), never by process name. The environment
# the node needs is passed to the RabbitMQ commands only, so the script's own HOME (dotnet, npm) stays as it was.

# /usr/lib/rabbitmq/bin runs as the current user, unlike the /usr/sbin wrappers.
rabbitmq_bin="${RABBITMQ_BIN_DIR:-/usr/lib/rabbitmq/bin}"
[ -x "$rabbitmq_bin/rabbitmq-server" ] || rabbitmq_bin="$(dirname "$(command -v rabbitmq-server 2>/dev/null || echo /nonexistent/x)")"
if [ ! -x "$rabbitmq_bin/rabbitmq-server" ] || [ ! -x "$rabbitmq_bin/rabbitmqctl" ]; then
  echo "${0##*/}: rabbitmq-server is not installed (Debian/Ubuntu: apt-get install rabbitmq-server, or set RABBITMQ_BIN_DIR)" >&2
  exit 2
fi

# free_port VAR: sets VAR to a port nothing listens on, among ports no earlier call picked. It assigns instead of printing,
# because a $(...) subshell would forget what it picked. Ports come from below the kernel's ephemeral range: a port in
# that range can be taken at any moment as the local end of an outgoing connection (a host's own connection to the
# broker, say), and then nothing can listen on it.
ephemeral_low="$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)"
[ "$ephemeral_low" -gt 11000 ] 2>/dev/null || ephemeral_low=32768
picked_ports=" "
free_port() {
  local free_port_candidate
  while true; do
    free_port_candidate=$((10000 + RANDOM % (ephemeral_low - 10000)))
    case "$picked_ports" in *" $free_port_candidate "*) continue ;; esac
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$free_port_candidate") 2>/dev/null; then
      picked_ports="$picked_ports$free_port_candidate "
      printf -v "$1" '%s' "$free_port_candidate"
      return
    fi
  done
}

rabbitmq_dir=""
rabbitmq_node=""

rabbitmq_env() {
  env HOME="$rabbitmq_dir" RABBITMQ_NODENAME="$rabbitmq_node" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$amqp_port" \
    RABBITMQ_DIST_PORT="$rabbitmq_dist_port" ERL_EPMD_PORT="$rabbitmq_epmd_port" RABBITMQ_MNESIA_BASE="$rabbitmq_dir/mnesia" \
    RABBITMQ_LOG_BASE="$rabbitmq_dir/log" RABBITMQ_ENABLED_PLUGINS_FILE="$rabbitmq_dir/enabled_plugins" \
    RABBITMQ_CONFIG_FILE="$rabbitmq_dir/rabbitmq.conf" RABBITMQ_ADVANCED_CONFIG_FILE="$rabbitmq_dir/advanced.config" \
    RABBITMQ_CONF_ENV_FILE="$rabbitmq_dir/rabbitmq-env.conf" RABBITMQ_PID_FILE="$rabbitmq_dir/rabbitmq.pid" "$@"
}

ctl() { rabbitmq_env "$rabbitmq_bin/rabbitmqctl" -n "$rabbitmq_node" "$@"; }

rabbitmq_node_start() {
  local name="$1" plugins="$2" attempt
  shift 2
  rabbitmq_dir="$(mktemp -d -t "$name-rabbitmq-XXXXXX")"
  rabbitmq_node="$name$$@localhost"
  free_port amqp_port; free_port rabbitmq_dist_port; free_port rabbitmq_epmd_port
  { printf 'listeners.tcp.default = %s\nloopback_users = none\nlog.console = false\n' "$amqp_port"; printf '%s\n' "$@"; } > "$rabbitmq_dir/rabbitmq.conf"
  echo "$plugins." > "$rabbitmq_dir/enabled_plugins"
  : > "$rabbitmq_dir/rabbitmq-env.conf"
  rabbitmq_env "$rabbitmq_bin/rabbitmq-server" -detached
  # await_startup fails at once until the node registered with epmd: retry it for up to two minutes.
  for attempt in $(seq 1 120); do
    if ctl await_startup --timeout 60 >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  echo "the RabbitMQ node did not start; logs in $rabbitmq_dir/log" >&2
  exit 1
}

rabbitmq_node_stop() {
  local pid
  [ -n "$rabbitmq_dir" ] || return 0
  # The node removes its pid file as it stops: read it once, before asking it to stop, tolerating that it is gone (a
  # check and then a read raced with that, and `set -e` turned the failed read into a failed script; read after the
  # stop, it was often gone already, and nothing waited for the node to end before its epmd was stopped).
  pid="$(cat "$rabbitmq_dir/rabbitmq.pid" 2>/dev/null || true)"
  ctl stop >/dev/null 2>&1 || true
  if [ -n "$pid" ]; then
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rabbitmq_epmd_stop
  rm -rf "$rabbitmq_dir"
}

# rabbitmq_epmd_stop: stops the epmd the node started on the script's own port (never another). epmd refuses to stop
# while a node is registered ("Killing not allowed - living nodes in database"), and a node that just ended stays
# registered until epmd has seen its connection close, so a single `epmd -kill` right after the node left epmd running
# for good: retry for up to 5 s, until it stops or nothing answers on the port any more.
rabbitmq_epmd_stop() {
  [ -n "${rabbitmq_epmd_port:-}" ] || return 0
  for _ in $(seq 1 25); do
    epmd -port "$rabbitmq_epmd_port" -kill >/dev/null 2>&1 && return 0
    epmd -port "$rabbitmq_epmd_port" -names >/dev/null 2>&1 || return 0
    sleep 0.2
  done
  echo "${0##*/}: the epmd on port $rabbitmq_epmd_port (of node $rabbitmq_node) did not stop; stop it with: epmd -port $rabbitmq_epmd_port -kill" >&2
}
