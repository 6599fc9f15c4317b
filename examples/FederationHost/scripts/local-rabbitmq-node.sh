#!/usr/bin/env bash
# Starts (or stops) a throwaway RabbitMQ node on loopback from the Debian/Ubuntu rabbitmq-server package, with the plugins
# federation needs (management, event exchange) and a unique cluster name. No service, no root-owned state: everything
# lives in /tmp/rabbitmq-NAME. The federation plugin is enabled too, so benchmarks can compare against it. Usage:
#   local-rabbitmq-node.sh start NAME AMQP_PORT MANAGEMENT_PORT DIST_PORT   (epmd uses DIST_PORT+1; all four must be free)
#   local-rabbitmq-node.sh ctl NAME rabbitmqctl-arguments...   (e.g. add_user, list_queues: the node has its own cookie and epmd)
#   local-rabbitmq-node.sh stop NAME
set -euo pipefail
bin=${RABBITMQ_BIN_DIR:-/usr/lib/rabbitmq/bin}
action=$1 name=$2 dir=/tmp/rabbitmq-$2
export HOME=$dir RABBITMQ_NODENAME=$name@localhost   # HOME holds this node's own Erlang cookie
case $action in
  start)
    amqp=$3 management=$4 dist=$5
    mkdir -p "$dir"
    # A start after a failed one, or after a crash without 'stop': the old log's BOOT FAILED and the old pid file's exited
    # process would be taken for this boot's failure at the first poll.
    rm -rf "$dir/log" "$dir/pid"
    echo $((dist + 1)) > "$dir/epmd-port"
    # The node's Erlang cookie, written before anything runs: otherwise the node and the first rabbitmqctl below, started
    # together with the same HOME, both create $HOME/.erlang.cookie when it is missing, each with a random cookie of its
    # own. On a loaded machine the CLI's can overwrite the node's file after the node read its own, and then no
    # rabbitmqctl ever authenticates (the log says "Invalid challenge reply") and the start reports a node that runs.
    if [ ! -s "$dir/.erlang.cookie" ]; then
      (umask 077; head -c 15 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F > "$dir/.erlang.cookie")
      chmod 400 "$dir/.erlang.cookie"
    fi
    echo '[rabbitmq_management,rabbitmq_event_exchange,rabbitmq_federation].' > "$dir/enabled_plugins"
    printf 'listeners.tcp.default = 127.0.0.1:%s\nmanagement.tcp.port = %s\nmanagement.tcp.ip = 127.0.0.1\n' "$amqp" "$management" > "$dir/rabbitmq.conf"
    RABBITMQ_NODE_PORT=$amqp RABBITMQ_DIST_PORT=$dist ERL_EPMD_PORT=$((dist + 1)) \
      RABBITMQ_MNESIA_BASE=$dir/mnesia RABBITMQ_LOG_BASE=$dir/log RABBITMQ_PID_FILE=$dir/pid \
      RABBITMQ_ENABLED_PLUGINS_FILE=$dir/enabled_plugins RABBITMQ_CONFIG_FILE=$dir/rabbitmq \
      "$bin/rabbitmq-server" -detached
    # await_startup fails at once until the node has registered with epmd, so retry it for up to a minute; a node whose
    # process has gone, or whose log says BOOT FAILED (a port taken, say), is reported at once with the reason.
    for attempt in $(seq 1 120); do
      ERL_EPMD_PORT=$((dist + 1)) "$bin/rabbitmqctl" -n "$RABBITMQ_NODENAME" await_startup --timeout 60 >/dev/null 2>&1 && break
      failed=
      if [ -s "$dir/pid" ] && ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then failed="its process has exited"; fi
      if grep -qs "BOOT FAILED" "$dir"/log/*.log; then failed="its log says BOOT FAILED"; fi
      if [ -n "$failed" ] || [ "$attempt" -eq 120 ]; then
        echo "$name did not start (${failed:-not up within a minute}); ports $amqp, $management, $dist and $((dist + 1)) must be free" >&2
        if ls "$dir"/log/*.log >/dev/null 2>&1; then
          grep -h -A25 "BOOT FAILED" "$dir"/log/*.log | head -40 >&2 || tail -20 "$dir"/log/*.log >&2
          echo "full log: $dir/log" >&2
        else
          echo "no log was written: the Erlang VM stopped before RabbitMQ started (most likely port $dist or $((dist + 1)) is taken)" >&2
        fi
        exit 1
      fi
      sleep 0.5
    done
    ERL_EPMD_PORT=$((dist + 1)) "$bin/rabbitmqctl" -n "$RABBITMQ_NODENAME" set_cluster_name "$name" >/dev/null
    echo "$name: amqp://guest:guest@127.0.0.1:$amqp/%2f?management-port=$management (pid $(cat "$dir/pid"))" ;;
  ctl)
    shift 2
    ERL_EPMD_PORT=$(cat "$dir/epmd-port") exec "$bin/rabbitmqctl" -n "$RABBITMQ_NODENAME" "$@" ;;
  stop)
    epmd_port=$(cat "$dir/epmd-port")
    pid=$(cat "$dir/pid")
    ERL_EPMD_PORT=$epmd_port "$bin/rabbitmqctl" -n "$RABBITMQ_NODENAME" stop >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
    # The epmd this node started, by its port. It refuses while the node that just ended is still registered: retry briefly.
    for _ in $(seq 1 25); do
      epmd -port "$epmd_port" -kill >/dev/null 2>&1 && break
      epmd -port "$epmd_port" -names >/dev/null 2>&1 || break
      sleep 0.2
    done
    rm -rf "$dir" ;;
esac
