# Sourced by the scripts beside it: `tap_lab NS TAP` puts TAP (the host side 192.168.69.1/24)
# and loopback up in namespace NS, which the caller has created (and deletes on exit).
tap_lab() {
  ip -n "$1" tuntap add "$2" mode tap
  ip -n "$1" addr add 192.168.69.1/24 dev "$2"
  ip -n "$1" link set "$2" up
  ip -n "$1" link set lo up
}
