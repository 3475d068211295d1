#!/usr/bin/env bash
# A local three-node replikv cluster on 127.0.0.1, for trying replikv out.
#   scripts/cluster.sh start [--base-port P]   build if needed, start node1..node3 on ports P..P+2
#                                              (P defaults to $BASE_PORT, else the last start's, else 7401)
#   scripts/cluster.sh status   one line per node: port, state, keys, peers alive/known
#   scripts/cluster.sh stop     SIGTERM every node and wait for it to exit
# State (data dirs, logs, pids, the base port, the nodes' shared swarm key swarm.key) lives in
# ./cluster, or in $CLUSTER_DIR.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${CLUSTER_DIR:-$root/cluster}
cli="node $root/dist/src/cli.js"
usage="usage: $0 start [--base-port P] | status | stop   (env: BASE_PORT, CLUSTER_DIR)"

command=${1:-}
[ $# -gt 0 ] && shift
base=${BASE_PORT:-}
while [ $# -gt 0 ]; do
  case "$1" in
    --base-port) [ $# -ge 2 ] || { echo "$usage" >&2; exit 64; }; base=$2; shift 2 ;;
    --base-port=*) base=${1#--base-port=}; shift ;;
    *) echo "unknown argument: $1" >&2; echo "$usage" >&2; exit 64 ;;
  esac
done
# Without --base-port or BASE_PORT, every command uses the port the cluster was last started on: a
# restart keeps the nodes' addresses (which their peers remember).
if [ -z "$base" ] && [ -f "$dir/base-port" ]; then base=$(cat "$dir/base-port"); fi
base=${base:-7401}
if ! [[ $base =~ ^[0-9]+$ ]] || [ "$base" -lt 1 ] || [ "$base" -gt 65533 ]; then
  echo "base port must be a number from 1 to 65533 (node n listens on P+n-1), got: $base" >&2
  exit 64
fi
port() { echo $((base + $1 - 1)); }

start_node() { # n bootstrap...
  local n=$1; shift
  local args=(daemon --data-dir "$dir/node$n" --listen "/ip4/127.0.0.1/tcp/$(port "$n")" --swarm-key "$dir/swarm.key")
  for b in "$@"; do args+=(--bootstrap "$b"); done
  $cli "${args[@]}" </dev/null >>"$dir/node$n.log" 2>&1 &
  echo $! >"$dir/node$n.pid"
  for _ in $(seq 1 100); do
    $cli status --data-dir "$dir/node$n" >/dev/null 2>&1 && return 0
    kill -0 "$(cat "$dir/node$n.pid")" 2>/dev/null || break
    sleep 0.1
  done
  echo "node$n did not start on port $(port "$n"); see $dir/node$n.log" >&2
  exit 1
}

# One status line from `status --json` on stdin: node name and port in argv.
format_status='let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);
const alive=j.peers.filter(p=>p.state==="alive").length;
console.log(`${process.argv[1]}  127.0.0.1:${process.argv[2]}  state ${j.state}  keys ${j.keys}  peers ${alive}/${j.peers.length} alive`)})'

# The message of a --json error on stdin (anything else: its first line).
error_message='let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s).error)}catch{console.log(s.split("\n")[0])}})'

case "$command" in
  start)
    [ -f "$root/dist/src/cli.js" ] || (cd "$root" && npm run build >/dev/null)
    mkdir -p "$dir"
    for n in 1 2 3; do
      if [ -f "$dir/node$n.pid" ] && kill -0 "$(cat "$dir/node$n.pid")" 2>/dev/null; then
        echo "node$n is already running (pid $(cat "$dir/node$n.pid")); run: $0 stop" >&2
        exit 1
      fi
    done
    echo "$base" >"$dir/base-port"
    # One private network for the three nodes (a node given no key would make its own and reach no other).
    [ -f "$dir/swarm.key" ] || $cli keygen --out "$dir/swarm.key" >/dev/null
    start_node 1
    first=$($cli status --json --data-dir "$dir/node1" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).addrs[0]))')
    start_node 2 "$first"
    start_node 3 "$first"
    echo "three nodes running on 127.0.0.1:$(port 1)-$(port 3); node1 is $first"
    echo "they share the swarm key $dir/swarm.key: a node joins only with --swarm-key $dir/swarm.key"
    echo "try:  node dist/src/cli.js put hello world --data-dir $dir/node1"
    echo "      node dist/src/cli.js get hello --data-dir $dir/node3"
    ;;
  status)
    for n in 1 2 3; do
      if json=$($cli status --json --data-dir "$dir/node$n" 2>&1); then
        printf '%s' "$json" | node -e "$format_status" "node$n" "$(port "$n")"
      else
        echo "node$n  127.0.0.1:$(port "$n")  not running: $(printf '%s' "$json" | node -e "$error_message")"
      fi
    done
    ;;
  stop)
    for n in 1 2 3; do
      pidfile="$dir/node$n.pid"
      [ -f "$pidfile" ] || continue
      pid=$(cat "$pidfile")
      if kill -TERM "$pid" 2>/dev/null; then
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      fi
      rm -f "$pidfile"
    done
    echo "stopped (data kept in $dir; delete it to start afresh)"
    ;;
  *)
    echo "$usage" >&2
    exit 64
    ;;
esac
