#!/usr/bin/env bash
# Federation of Collectives on real nats-servers started for this run (loopback, free ports, temp dirs, stopped by pid):
# request/reply directly (no federation), through 1 and through 2 federation broker instances, in interleaved rounds of one run on the
# same two servers, closed loop and then paced below saturation. Prints requests/s, p50 and p99 reply latency for each path,
# the ratios against direct, CPU per request of clients, brokers (each instance its own process) and nats-servers, and the load.
# Usage: benchmarks/collectives-bench.sh [REQUESTS] [CONCURRENCY] [WORKERS] [ROUNDS] [PACED_RATE]   (needs nats-server; $NATS_SERVER_BIN overrides)
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${1:-20000}
concurrency=${2:-64}
workers=${3:-1}
rounds=${4:-5}
paced_rate=${5:-}
nats_server=${NATS_SERVER_BIN:-$(command -v nats-server || echo /usr/sbin/nats-server)}
# N distinct free ports at once: sockets held open together, so the kernel cannot hand the same port out twice.
free_ports() { python3 -c 'import socket,sys; s=[socket.socket() for _ in range(int(sys.argv[1]))]; [x.bind(("127.0.0.1",0)) for x in s]; print(" ".join(str(x.getsockname()[1]) for x in s)); [x.close() for x in s]' "$1"; }
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work" "${capture_dir:-}"
}
trap cleanup EXIT

start_server() { # name port
  "$nats_server" -a 127.0.0.1 -p "$2" -n "$1" -l "$work/$1.log" &
  pids+=("$!")
  for _ in $(seq 1 150); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null; then return 0; fi
    sleep 0.1   # polling the port with a deadline, not a wait for behaviour
  done
  echo "nats-server $1 did not start; log:" >&2; cat "$work/$1.log" >&2; exit 1
}

read -r federation_port collective_port < <(free_ports 2)
start_server bench-federation "$federation_port"
start_server bench-collective "$collective_port"
server_pids="${pids[*]}"

# BENCH_CAPTURE=1: capture both servers' loopback traffic with tcpdump (root) and print where the paced rounds' latency goes,
# leg by leg (benchmarks/collectives-legs.py). The capture goes to memory (/dev/shm) so that writing it does not stall the
# processes measured; it still costs CPU, so read the ratios of a captured run with that in mind.
if [[ "${BENCH_CAPTURE:-}" == 1 ]]; then
  capture_dir=$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d)
  tcpdump -i lo -w "$capture_dir/capture.pcap" -s 0 -B 65536 "tcp port $federation_port or tcp port $collective_port" 2>"$work/tcpdump.log" &
  capture_pid=$!
  pids+=("$capture_pid")
  for _ in $(seq 1 50); do grep -q listening "$work/tcpdump.log" && break; sleep 0.1; done   # polling with a deadline
fi

BENCH_SERVER_PIDS="$server_pids" dotnet run -c Release --project benchmarks/Federation.Collectives.Bench -- \
  "nats://127.0.0.1:$federation_port" "nats://127.0.0.1:$collective_port" "$requests" "$concurrency" "$workers" "$rounds" $paced_rate

if [[ -n "${capture_pid:-}" ]]; then
  kill -INT "$capture_pid"; wait "$capture_pid" 2>/dev/null || true
  echo
  python3 benchmarks/collectives-legs.py "$capture_dir/capture.pcap" "$((rounds * 3))"
  rm -rf "$capture_dir"
fi
