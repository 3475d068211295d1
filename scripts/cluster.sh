#!/usr/bin/env bash
# A local three-node replikv cluster on 127.0.0.1, for trying replikv out.
#   scripts/cluster.sh start    build if needed, start node1..node3 (ports 7401-7403)
#   scripts/cluster.sh status   one line per node
#   scripts/cluster.sh stop     SIGTERM every node and wait for it to exit
# State (data dirs, logs, pids) lives in ./cluster, or in $CLUSTER_DIR.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${CLUSTER_DIR:-$root/cluster}
cli="node $root/dist/src/cli.js"

start_node() { # n bootstrap...
  local n=$1; shift
  local args=(daemon --data-dir "$dir/node$n" --listen "/ip4/127.0.0.1/tcp/740$n")
  for b in "$@"; do args+=(--bootstrap "$b"); done
  $cli "${args[@]}" 2>>"$dir/node$n.log" &
  echo $! >"$dir/node$n.pid"
  for _ in $(seq 1 100); do
    $cli status --data-dir "$dir/node$n" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "node$n did not start; see $dir/node$n.log" >&2
  exit 1
}

case "${1:-}" in
  start)
    [ -f "$root/dist/src/cli.js" ] || (cd "$root" && npm run build >/dev/null)
    mkdir -p "$dir"
    for n in 1 2 3; do
      if [ -f "$dir/node$n.pid" ] && kill -0 "$(cat "$dir/node$n.pid")" 2>/dev/null; then
        echo "node$n is already running (pid $(cat "$dir/node$n.pid")); run: $0 stop" >&2
        exit 1
      fi
    done
    start_node 1
    first=$($cli status --json --data-dir "$dir/node1" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).addrs[0]))')
    start_node 2 "$first"
    start_node 3 "$first"
    echo "three nodes running; node1 is $first"
    echo "try:  node dist/src/cli.js put hello world --data-dir $dir/node1"
    echo "      node dist/src/cli.js get hello --data-dir $dir/node3"
    ;;
  status)
    for n in 1 2 3; do
      printf 'node%s: ' "$n"
      $cli status --data-dir "$dir/node$n" 2>&1 | head -n 1 || true
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
    echo "usage: $0 start|status|stop" >&2
    exit 64
    ;;
esac
