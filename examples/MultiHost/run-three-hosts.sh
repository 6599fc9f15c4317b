#!/usr/bin/env bash
# Three FederationHost processes with one configuration on one machine, one of them killed with kill -9 while messages
# flow: its links move to the other two, and a third-party client (npm amqplib) sees every message exactly once.
#
# It starts a throwaway RabbitMQ node (its own temporary directory, free loopback ports, its own epmd, the management and
# event-exchange plugins the AMQP transport needs) with two vhosts standing in for two brokers: "up" (where messages are
# published) and "down" (the federated exchanges, with the links' leases and ledgers). Then:
#   1. writes ONE appsettings.json: 9 exchanges federated.orders.0..8, on-confirm links (duplicate suppression is on by
#      default), resource-cleanup-mode never, so that a host that stops leaves the upstream queues for the next one;
#   2. starts three hosts on it, differing only in --Federation:InstanceName and --Host:Url;
#   3. waits until each link runs in exactly one host (the others show it "waiting"), and prints `FederationHost status`;
#   4. publishes 6,000 persistent messages with message-ids upstream (about 600/s, amqplib) and, while they flow,
#      kills the host that runs the most links with kill -9 (by its pid);
#   5. measures how long until every link runs again, exactly once, in the two survivors, and prints `status` again;
#   6. consumes everything downstream with amqplib and checks each message-id arrived exactly once.
# Everything it started is stopped by pid (hosts, RabbitMQ, its epmd by port), whatever the outcome.
# Usage: bash examples/MultiHost/run-three-hosts.sh [--no-build]
# Needs rabbitmq-server 3.10 or later, node and npm (`bash scripts/test.sh` installs them on Debian/Ubuntu).
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PATH:/usr/sbin" DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

build=1
if [ "${1:-}" = "--no-build" ]; then build=0; shift; fi

exchanges=(federated.orders.0 federated.orders.1 federated.orders.2 federated.orders.3 federated.orders.4
           federated.orders.5 federated.orders.6 federated.orders.7 federated.orders.8)
messages=6000
rate=600
failover_bar=10   # seconds: issue 13's bar for a dead host's links to run again on the survivors

source scripts/lib/rabbitmq-node.sh
command -v node >/dev/null 2>&1 || { echo "run-three-hosts.sh: node is required (the amqplib client)" >&2; exit 2; }
command -v curl >/dev/null 2>&1 || { echo "run-three-hosts.sh: curl is required" >&2; exit 2; }
if [ ! -d tests/interop/node_modules/amqplib ]; then
  (cd tests/interop && npm ci --no-audit --no-fund --loglevel=error)
fi

if [ "$build" -eq 1 ]; then dotnet build examples/FederationHost -c Release -v quiet -nologo; fi
host_dll="examples/FederationHost/bin/Release/net10.0/FederationHost.dll"
[ -f "$host_dll" ] || { echo "run-three-hosts.sh: $host_dll is missing; run without --no-build" >&2; exit 2; }

dir="$(mktemp -d -t multihost-XXXXXX)"
host_pids=()
cleanup() {
  local pid
  for pid in "${host_pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  rabbitmq_node_stop
  rm -rf "$dir"
}
trap cleanup EXIT
trap "exit 143" TERM INT   # so that the EXIT trap stops what was started when `timeout` ends the script

free_port management_port
echo "== starting a RabbitMQ node on loopback, management on $management_port"
rabbitmq_node_start multihost '[rabbitmq_management,rabbitmq_event_exchange]' "management.tcp.port = $management_port" "management.tcp.ip = 127.0.0.1"
echo "== RabbitMQ node up on 127.0.0.1:$amqp_port (data in $rabbitmq_dir)"
ctl set_cluster_name multihost-up >/dev/null
for vhost in up down; do
  ctl add_vhost "$vhost" >/dev/null
  ctl set_permissions -p "$vhost" guest '.*' '.*' '.*' >/dev/null
done

up="amqp://guest:guest@127.0.0.1:$amqp_port/up"
down="amqp://guest:guest@127.0.0.1:$amqp_port/down"
(cd tests/interop && node amqplib-exactly-once.mjs setup "$down" "${exchanges[@]}")

# One configuration for all three hosts. ClusterName names the downstream side: both vhosts are on one node here, which
# advertises one cluster name, and loop detection needs the two sides told apart.
mkdir -p "$dir/host"
cat > "$dir/host/appsettings.json" <<JSON
{
  "Logging": { "LogLevel": { "Default": "Warning", "Federation.Core": "Information", "Microsoft.Hosting.Lifetime": "Information" } },
  "Host": { "Url": "http://127.0.0.1:15690", "CreateInMemoryBrokers": false },
  "Federation": {
    "ClusterName": "multihost-down",
    "Downstream": { "uri": "$down?management-port=$management_port" },
    "Upstreams": {
      "up": { "uri": "$up?management-port=$management_port", "max-hops": 1, "ack-mode": "on-confirm", "prefetch-count": 1000,
              "reconnect-delay": 1, "resource-cleanup-mode": "never" }
    },
    "Policies": {
      "orders": { "pattern": "^federated\\\\.orders\\\\.", "apply-to": "exchanges", "definition": { "federation-upstream": "up" } }
    }
  }
}
JSON

urls=()
for i in 1 2 3; do
  free_port port
  urls+=("http://127.0.0.1:$port")
  dotnet "$host_dll" --contentRoot "$dir/host" --Federation:InstanceName="host-$i" --Host:Url="http://127.0.0.1:$port" \
    > "$dir/host-$i.log" 2>&1 &
  host_pids+=("$!")
  echo "== host-$i: pid $!, http://127.0.0.1:$port"
done

# Prints "<link id> <host index>" for each link that host runs (nothing when it does not answer).
running_links() {
  curl -sf --max-time 5 "${urls[$1]}/federation/links" 2>/dev/null |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{for(const l of JSON.parse(s||"[]"))if(l.state==="running")console.log(l.id+" '"$1"'")})' || true
}

# Waits (up to $1 seconds) until each link runs in exactly one of the hosts named by the remaining arguments (indexes);
# then prints how many each runs. Returns 1 at the deadline.
wait_for_links() {
  local deadline=$((SECONDS + $1)) lines=""; shift
  while [ "$SECONDS" -lt "$deadline" ]; do
    for h in "$@"; do
      kill -0 "${host_pids[$h]}" 2>/dev/null || { echo "host-$((h + 1)) exited:" >&2; cat "$dir/host-$((h + 1)).log" >&2; return 1; }
    done
    lines="$(for h in "$@"; do running_links "$h"; done)"
    if [ -n "$lines" ] && [ "$(wc -l <<<"$lines")" -eq "${#exchanges[@]}" ] &&
       [ "$(cut -d' ' -f1 <<<"$lines" | sort -u | wc -l)" -eq "${#exchanges[@]}" ]; then
      for h in "$@"; do echo "   host-$((h + 1)): $(grep -c " $h\$" <<<"$lines" || true) links running"; done
      return 0
    fi
    sleep 0.2
  done
  echo "links not running exactly once within the deadline; last: ${lines:-none}" >&2
  return 1
}

status() { dotnet "$host_dll" status --url "${urls[$1]}" | cut -f1,4,7,13; }

echo "== waiting until each of the ${#exchanges[@]} links runs in exactly one host"
wait_for_links 90 0 1 2 || { tail -n 20 "$dir"/host-*.log >&2; exit 1; }
echo "== FederationHost status --url ${urls[0]}   (id, exchange, status, running_on)"
status 0

echo "== publishing $messages messages upstream with amqplib (about $rate/s)"
(cd tests/interop && exec node amqplib-exactly-once.mjs publish "$up" "$messages" "$rate" "${exchanges[@]}") > "$dir/publisher.log" 2>&1 &
publisher=$!
host_pids+=("$publisher")
deadline=$((SECONDS + 60))
until grep -q '^published 1000$' "$dir/publisher.log"; do
  kill -0 "$publisher" 2>/dev/null || { cat "$dir/publisher.log" >&2; exit 1; }
  [ "$SECONDS" -lt "$deadline" ] || { echo "the publisher did not get going" >&2; exit 1; }
  sleep 0.1
done

# The host that runs the most links.
busiest=0 most=-1
for h in 0 1 2; do
  n=$(running_links "$h" | wc -l)
  if [ "$n" -gt "$most" ]; then busiest=$h most=$n; fi
done
survivors=()
for h in 0 1 2; do [ "$h" -eq "$busiest" ] || survivors+=("$h"); done

echo "== kill -9 ${host_pids[$busiest]} (host-$((busiest + 1)), $most links running) while messages flow"
killed_at=$(date +%s%N)
{ kill -9 "${host_pids[$busiest]}"; wait "${host_pids[$busiest]}"; } 2>/dev/null || true
wait_for_links 60 "${survivors[@]}" || { tail -n 20 "$dir"/host-*.log >&2; exit 1; }
failover_ms=$((($(date +%s%N) - killed_at) / 1000000))
echo "== every link running again, exactly once, $((failover_ms / 1000)).$(printf %03d $((failover_ms % 1000))) s after the kill"
echo "== FederationHost status --url ${urls[${survivors[0]}]}"
status "${survivors[0]}"
echo "== the survivors' logs (event 1102):"
for h in "${survivors[@]}"; do grep -h 'took over lease' "$dir/host-$((h + 1)).log" | sed "s/^ */   host-$((h + 1)): /" | head -n 2 || true; done

wait "$publisher" || { cat "$dir/publisher.log" >&2; exit 1; }
echo "== $(tail -n 1 "$dir/publisher.log"); checking downstream with amqplib that each arrived exactly once"
verdict=0
(cd tests/interop && node amqplib-exactly-once.mjs verify "$down" "$messages" 60 "${exchanges[@]}") || verdict=$?
if [ "$failover_ms" -gt $((failover_bar * 1000)) ]; then
  echo "the links took ${failover_ms} ms to run again, more than ${failover_bar} s" >&2
  verdict=1
fi
[ "$verdict" -eq 0 ] && echo "== OK: every message exactly once across the kill"
exit "$verdict"
