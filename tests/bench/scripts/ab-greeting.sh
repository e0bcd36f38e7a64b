#!/bin/bash
# Two builds of tcplink-tap side by side under `tcplink-host load` (root; issue 16 item 2).
#
#   tests/bench/scripts/ab-greeting.sh OLD_DIR NEW_DIR ROUNDS SECONDS CLIENTS...
#
# OLD_DIR and NEW_DIR each hold tcplink-tap and tcplink-host. Each binary runs
# `serve --sockets 64` alone on one TAP in a namespace this script creates (and deletes),
# old and new alternating (order swapped every round); after 20 warm-up sessions a load of
# SECONDS per client count. Prints one line per measurement (sessions/s, p50/p99 µs, errors,
# server CPU µs per session from /proc/PID/task/*/schedstat), then the median of the
# per-round ratios new ÷ old.
# OLD_ARGS and NEW_ARGS (optional) are more tcplink-tap options for each side, e.g. the same
# build in both dirs with OLD_ARGS="--io read-write" NEW_ARGS="--io uring".
set -eu
OLD=$1; NEW=$2; ROUNDS=$3; SECS=$4; shift 4
NS=tlab-$$; TAP=tlab$$
OUT=$(mktemp /tmp/tlab-$$-XXXX)
ip netns add $NS
trap 'ip netns del $NS; rm -f $OUT' EXIT
. "$(dirname "$0")/tap-lab.sh"
tap_lab $NS $TAP
cpu_ns() { local t=0 a rest; for f in /proc/$1/task/*/schedstat; do read -r a rest < $f; t=$((t + a)); done; echo $t; }
one() { # DIR CLIENTS LABEL
  local extra; if [ "$3" = old ]; then extra=${OLD_ARGS:-}; else extra=${NEW_ARGS:-}; fi
  ip netns exec $NS $1/tcplink-tap --tap $TAP --ip 192.168.69.2/24 --mac 02:00:00:00:00:02 \
    $extra serve --sockets 64 >/dev/null 2>&1 &
  local pid=$!
  sleep 0.3
  ip netns exec $NS $1/tcplink-host load 192.168.69.2:9999 --clients 1 --max-sessions 20 --json >/dev/null || true
  local c0; c0=$(cpu_ns $pid)
  local json; json=$(ip netns exec $NS $1/tcplink-host load 192.168.69.2:9999 --clients $2 --duration-s $SECS --json || true)
  local c1; c1=$(cpu_ns $pid)
  kill $pid; wait $pid 2>/dev/null || true
  python3 -c '
import json, sys
v = json.loads(sys.argv[1]); cpu_us = (int(sys.argv[3]) - int(sys.argv[2])) / 1000
sps, p50, p99, err = v["sessions_per_s"], v["latency_p50_us"], v["latency_p99_us"], v["errors"]
per = cpu_us / max(1, v["sessions"])
print(f"{sys.argv[4]} c={sys.argv[5]} sps={sps:.0f} p50={p50} p99={p99} err={err} cpu_us_per_session={per:.2f}")
' "$json" $c0 $c1 $3 $2 | tee -a $OUT
}
for r in $(seq 1 $ROUNDS); do
  for c in "$@"; do
    if [ $((r % 2)) = 1 ]; then one $OLD $c old; one $NEW $c new; else one $NEW $c new; one $OLD $c old; fi
  done
done
python3 - $OUT <<'PY'
import statistics as st, sys
d = {}
for line in open(sys.argv[1]):
    who, *kv = line.split()
    kv = dict(x.split("=") for x in kv)
    d.setdefault((who, kv["c"]), []).append(kv)
for (who, c) in sorted({k for k in d if k[0] == "old"}, key=lambda k: int(k[1])):
    o, n = d[("old", c)], d[("new", c)]
    def ratio(key):
        r = [float(b[key]) / float(a[key]) for a, b in zip(o, n)]
        return f"{st.median(r):.2f}x ({min(r):.2f}-{max(r):.2f})"
    print(f"{c} clients, new / old: sessions/s {ratio('sps')}, CPU per session "
          f"{ratio('cpu_us_per_session')}, p99 {ratio('p99')}")
PY
