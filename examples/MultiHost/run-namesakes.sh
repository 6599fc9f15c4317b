#!/usr/bin/env bash
# Two (or more) FederationHost processes started with the SAME Federation:InstanceName (an operator's mistake: one
# configuration copied with its name), black-box: does any message arrive twice or never, and what do status, /health
# and the logs say?
#
# Starts a throwaway RabbitMQ node (as run-three-hosts.sh does: its own temporary directory, free loopback ports, vhosts
# "up" and "down"), writes ONE appsettings.json that sets "InstanceName": "host-a" (9 exchanges, on-confirm links, the
# default resource-cleanup-mode), starts the hosts, waits until every link runs once, publishes messages with message-ids
# upstream (npm amqplib), optionally stops one host of that name mid-stream, then counts each id downstream.
#   NAMES    the instance names of the hosts, space-separated ("host-a host-a": two namesakes; "host-a host-a host-b" adds
#            a host with its own name, to see how the namesakes look to it); default "host-a host-a host-b"
#   STOP     none | term | kill: SIGTERM or kill -9 the first namesake that runs a link after 1,000 messages; default term
#   MESSAGES default 5000;  RATE default 500 per second
# Prints, per host: links running, /health, and how often it logged events 1210 (namesake), 1201 (live instances
# changed) and 1203 (handover); then the amqplib verdict {published, received, distinct, duplicated, lost}.
# Exits 0 only if every message arrived exactly once. Everything it started is stopped by pid.
# Usage: NAMES="host-a host-a" STOP=term bash examples/MultiHost/run-namesakes.sh [--no-build]
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PATH:/usr/sbin" DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

build=1
if [ "${1:-}" = "--no-build" ]; then build=0; shift; fi
read -r -a names <<<"${NAMES:-host-a host-a host-b}"
stop="${STOP:-term}"
messages="${MESSAGES:-5000}"
rate="${RATE:-500}"
exchanges=()
for i in 0 1 2 3 4 5 6 7 8; do exchanges+=("federated.orders.$i"); done

source scripts/lib/rabbitmq-node.sh
command -v node >/dev/null 2>&1 || { echo "run-namesakes.sh: node is required (the amqplib client)" >&2; exit 2; }
if [ ! -d tests/interop/node_modules/amqplib ]; then
  (cd tests/interop && npm ci --no-audit --no-fund --loglevel=error)
fi
if [ "$build" -eq 1 ]; then dotnet build examples/FederationHost -c Release -v quiet -nologo; fi
host_dll="examples/FederationHost/bin/Release/net10.0/FederationHost.dll"
[ -f "$host_dll" ] || { echo "run-namesakes.sh: $host_dll is missing; run without --no-build" >&2; exit 2; }

dir="$(mktemp -d -t namesakes-XXXXXX)"
host_pids=()
cleanup() {
  local pid
  for pid in "${host_pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  rabbitmq_node_stop
  [ -n "${KEEP:-}" ] && { echo "logs kept in $dir"; return; }
  rm -rf "$dir"
}
trap cleanup EXIT
trap "exit 143" TERM INT

free_port management_port
rabbitmq_node_start namesakes '[rabbitmq_management,rabbitmq_event_exchange]' "management.tcp.port = $management_port" "management.tcp.ip = 127.0.0.1"
ctl set_cluster_name namesakes-up >/dev/null
for vhost in up down; do
  ctl add_vhost "$vhost" >/dev/null
  ctl set_permissions -p "$vhost" guest '.*' '.*' '.*' >/dev/null
done
up="amqp://guest:guest@127.0.0.1:$amqp_port/up"
down="amqp://guest:guest@127.0.0.1:$amqp_port/down"
(cd tests/interop && node amqplib-exactly-once.mjs setup "$down" "${exchanges[@]}")

mkdir -p "$dir/host"
cat > "$dir/host/appsettings.json" <<JSON
{
  "Logging": { "LogLevel": { "Default": "Warning", "Federation.Core": "Information", "Microsoft.Hosting.Lifetime": "Information" } },
  "Host": { "Url": "http://127.0.0.1:15690", "CreateInMemoryBrokers": false },
  "Federation": {
    "ClusterName": "namesakes-down",
    "InstanceName": "host-a",
    "Downstream": { "uri": "$down?management-port=$management_port" },
    "Upstreams": {
      "up": { "uri": "$up?management-port=$management_port", "max-hops": 1, "ack-mode": "on-confirm", "prefetch-count": 1000, "reconnect-delay": 1 }
    },
    "Policies": {
      "orders": { "pattern": "^federated\\\\.orders\\\\.", "apply-to": "exchanges", "definition": { "federation-upstream": "up" } }
    }
  }
}
JSON

urls=()
for i in "${!names[@]}"; do
  free_port port
  urls+=("http://127.0.0.1:$port")
  extra=()
  [ "${names[$i]}" = host-a ] || extra=(--Federation:InstanceName="${names[$i]}")
  dotnet "$host_dll" --contentRoot "$dir/host" "${extra[@]}" --Host:Url="http://127.0.0.1:$port" > "$dir/host-$i.log" 2>&1 &
  host_pids+=("$!")
  echo "== #$i ${names[$i]}: pid $!, http://127.0.0.1:$port"
  sleep 1
done

running_links() {
  curl -sf --max-time 5 "${urls[$1]}/federation/links" 2>/dev/null |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{for(const l of JSON.parse(s||"[]"))if(l.state==="running")console.log(l.id+" '"$1"'")})' || true
}
alive=("${!names[@]}")
wait_for_links() {
  local deadline=$((SECONDS + $1)) lines=""
  while [ "$SECONDS" -lt "$deadline" ]; do
    lines="$(for h in "${alive[@]}"; do running_links "$h"; done)"
    if [ -n "$lines" ] && [ "$(cut -d' ' -f1 <<<"$lines" | sort -u | wc -l)" -eq "${#exchanges[@]}" ]; then
      return 0
    fi
    sleep 0.2
  done
  echo "not every link running within the deadline; last: ${lines:-none}" >&2
  return 1
}
report() {
  local h
  for h in "${alive[@]}"; do
    local log="$dir/host-$h.log"
    printf '   #%s %s: running %s, events 1210=%s 1201=%s 1203=%s 1215=%s, health %s\n' "$h" "${names[$h]}" \
      "$(running_links "$h" | wc -l)" "$(grep -c '\[1210\]' "$log" || true)" "$(grep -c '\[1201\]' "$log" || true)" \
      "$(grep -c '\[1203\]' "$log" || true)" "$(grep -c '\[1215\]' "$log" || true)" \
      "$(curl -s --max-time 5 "${urls[$h]}/health" | head -c 400)"
  done
  local lines; lines="$(for h in "${alive[@]}"; do running_links "$h"; done)"
  echo "   links running: $(wc -l <<<"$lines") lines, $(cut -d' ' -f1 <<<"$lines" | sort -u | wc -l) distinct of ${#exchanges[@]}"
}

wait_for_links 90 || { tail -n 20 "$dir"/host-*.log >&2; exit 1; }
sleep 8   # past the settle time: placement has spread what it will spread
echo "== settled"; report

(cd tests/interop && exec node amqplib-exactly-once.mjs publish "$up" "$messages" "$rate" "${exchanges[@]}") > "$dir/publisher.log" 2>&1 &
publisher=$!
host_pids+=("$publisher")
until grep -q '^published 1000$' "$dir/publisher.log"; do
  kill -0 "$publisher" 2>/dev/null || { cat "$dir/publisher.log" >&2; exit 1; }
  sleep 0.1
done
if [ "$stop" != none ]; then
  victim=""
  for h in "${!names[@]}"; do
    if [ "${names[$h]}" = host-a ] && [ "$(running_links "$h" | wc -l)" -gt 0 ]; then victim=$h; break; fi
  done
  [ -n "$victim" ] || victim=0
  echo "== $stop #$victim (${names[$victim]}, $(running_links "$victim" | wc -l) links running) while messages flow"
  if [ "$stop" = kill ]; then kill -9 "${host_pids[$victim]}"; else kill -TERM "${host_pids[$victim]}"; fi
  wait "${host_pids[$victim]}" 2>/dev/null || true
  alive=()
  for h in "${!names[@]}"; do [ "$h" = "$victim" ] || alive+=("$h"); done
  wait_for_links 60 || true
fi
wait "$publisher" || { cat "$dir/publisher.log" >&2; exit 1; }
sleep 5
echo "== after publishing"; report
verdict=0
(cd tests/interop && node amqplib-exactly-once.mjs verify "$down" "$messages" 60 "${exchanges[@]}") || verdict=$?
echo "== 1210 lines of #0:"; grep -A1 '\[1210\]' "$dir/host-0.log" | head -4 || true
exit "$verdict"
