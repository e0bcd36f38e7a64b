#!/bin/bash
# User-space instructions per greeting session, tcplink-tap against lwip-tap (root; issue 27
# item 2).
#
#   tests/bench/scripts/callgrind-greeting.sh DIR SESSIONS CLIENTS...
#
# DIR holds tcplink-tap, lwip-tap and tcplink-host. Each server runs alone on one TAP in a
# namespace this script creates (and deletes), under `valgrind --tool=callgrind` with
# instrumentation off; after 20 warm-up sessions it is switched on (`callgrind_control -i on`)
# for SESSIONS sessions with CLIENTS in flight (at most 120 s) and the counts dumped. Prints,
# per server and client count, the whole process's instructions per completed session.
# tcplink-tap runs with `--io read-write`: under valgrind its io_uring loop never sees a
# completion (valgrind does not follow the kernel writing into the ring), so IO_MODES (its
# --io values, default "read-write") is there for a valgrind that does.
# LWIP=0 skips lwip-tap; KEEP=DIR keeps the callgrind files there (for callgrind_annotate).
set -eu
DIR=$1; SESSIONS=$2; shift 2
NS=tlcg-$$; TAP=tlcg$$
OUT=$(mktemp -d /tmp/tlcg-$$-XXXX)
ip netns add $NS
trap 'ip netns del $NS; if [ -n "${KEEP:-}" ]; then cp $OUT/* "$KEEP"/; fi; rm -rf $OUT' EXIT
. "$(dirname "$0")/tap-lab.sh"
tap_lab $NS $TAP
load() { # CLIENTS SESSIONS
  ip netns exec $NS $DIR/tcplink-host load 192.168.69.2:9999 --clients $1 --max-sessions $2 \
    --duration-s 120 --json
}
one() { # PROGRAM CLIENTS LABEL ARGS...
  local prog=$1 c=$2 label=$3; shift 3
  ip netns exec $NS valgrind -q --tool=callgrind --instr-atstart=no \
    --callgrind-out-file=$OUT/$label-$c.%p $DIR/$prog --tap $TAP --ip 192.168.69.2/24 \
    --mac 02:00:00:00:00:02 "$@" >/dev/null 2>&1 &
  local pid=$!
  # Valgrind starts slowly: warm up once the server answers.
  for _ in $(seq 1 50); do
    if load 1 20 >/dev/null 2>&1; then break; fi
    sleep 0.2
  done
  callgrind_control -i on $pid >/dev/null 2>&1
  local json; json=$(load $c $SESSIONS || true)
  callgrind_control -i off $pid >/dev/null 2>&1
  callgrind_control -d $pid >/dev/null 2>&1
  kill $pid; wait $pid 2>/dev/null || true
  python3 - "$json" $label $c $OUT/$label-$c.* <<'PY'
import json, sys
v = json.loads(sys.argv[1]); n = max(1, v["sessions"])
ir = 0
for path in sys.argv[4:]:
    for line in open(path):
        if line.startswith("summary:") or line.startswith("totals:"):
            ir = max(ir, int(line.split()[1]))
print(f"{sys.argv[2]} {sys.argv[3]} clients, {v['sessions']} sessions, {v['errors']} errors: "
      f"{ir / n / 1000:.1f}k instructions per session")
PY
}
for c in "$@"; do
  for io in ${IO_MODES:-read-write}; do
    one tcplink-tap $c tcplink-tap-$io --io $io serve --sockets 64
  done
  if [ "${LWIP:-1}" != 0 ]; then one lwip-tap $c lwip-tap serve; fi
done
