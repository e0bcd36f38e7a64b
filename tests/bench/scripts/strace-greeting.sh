#!/bin/bash
# System calls per greeting session, tcplink-tap against lwip-tap (root; issue 16 item 1).
#
#   tests/bench/scripts/strace-greeting.sh DIR SESSIONS CLIENTS...
#
# DIR holds tcplink-tap, lwip-tap and tcplink-host. Each server runs alone on one TAP in a
# namespace this script creates (and deletes), under `strace -c -f` (attached after start-up
# and 20 warm-up sessions), while `tcplink-host load` runs SESSIONS sessions with CLIENTS in
# flight (at most 60 s). Prints, per server and client count, the calls per completed
# session of each system call it made (strace's counts divided by the sessions).
# tcplink-tap runs once per I/O mode in IO_MODES (default "uring read-write", its --io);
# IO_MODES=default runs it without --io (a binary older than the option). LWIP=0 skips lwip-tap.
set -eu
DIR=$1; SESSIONS=$2; shift 2
NS=tlstrace-$$; TAP=tlst$$
OUT=$(mktemp -d /tmp/tlstrace-$$-XXXX)
ip netns add $NS
trap 'ip netns del $NS; rm -rf $OUT' EXIT
. "$(dirname "$0")/tap-lab.sh"
tap_lab $NS $TAP
DEV=(--tap $TAP --ip 192.168.69.2/24 --mac 02:00:00:00:00:02)
one() { # PROGRAM CLIENTS LABEL ARGS...
  local prog=$1 c=$2 label=$3; shift 3
  ip netns exec $NS $DIR/$prog "${DEV[@]}" serve "$@" >/dev/null 2>&1 &
  local pid=$!
  sleep 0.3
  ip netns exec $NS $DIR/tcplink-host load 192.168.69.2:9999 --clients 1 --max-sessions 20 --json >/dev/null || true
  strace -c -f -q -o $OUT/$label-$c.txt -p $pid &
  local tracer=$!
  sleep 0.5
  local json; json=$(ip netns exec $NS $DIR/tcplink-host load 192.168.69.2:9999 --clients $c \
    --max-sessions $SESSIONS --duration-s 60 --json || true)
  kill -INT $tracer; wait $tracer 2>/dev/null || true
  kill $pid; wait $pid 2>/dev/null || true
  python3 - "$json" $OUT/$label-$c.txt $label $c <<'PY'
import json, sys
v = json.loads(sys.argv[1]); n = max(1, v["sessions"])
calls = {}
for line in open(sys.argv[2]):
    f = line.split()
    # % time, seconds, usecs/call, calls, [errors,] syscall
    if len(f) >= 5 and f[3].isdigit() and f[-1] != "total":
        errors = int(f[4]) if len(f) == 6 else 0
        calls[f[-1]] = (int(f[3]), errors)
desc = ", ".join(f"{k} {c / n:.2f}" + (f" ({e / n:.2f} failed)" if e else "")
                 for k, (c, e) in sorted(calls.items(), key=lambda kv: -kv[1][0]))
total = sum(c for c, _ in calls.values()) / n
print(f"{sys.argv[3]} {sys.argv[4]} clients, {v['sessions']} sessions, {v['errors']} errors: "
      f"{total:.2f} calls per session: {desc}")
PY
}
for c in "$@"; do
  for io in ${IO_MODES:-uring read-write}; do
    if [ "$io" = default ]; then
      one tcplink-tap $c tcplink-tap --sockets 64
    else
      DEV=(--tap $TAP --ip 192.168.69.2/24 --mac 02:00:00:00:00:02 --io $io)
      one tcplink-tap $c tcplink-tap-$io --sockets 64
      DEV=(--tap $TAP --ip 192.168.69.2/24 --mac 02:00:00:00:00:02)
    fi
  done
  if [ "${LWIP:-1}" != 0 ]; then one lwip-tap $c lwip-tap; fi
done
