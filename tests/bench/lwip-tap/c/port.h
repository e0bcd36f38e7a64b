/* What the C side of the lwIP contender gives the Rust `main` (src/main.rs) and shares
 * between its files. */
#ifndef TCPLINK_LWIP_TAP_PORT_H
#define TCPLINK_LWIP_TAP_PORT_H

#include <stdint.h>

/* Frames read from the TAP per wake-up at most: tcplink's INGRESS_BUDGET (src/stack.rs),
 * so the comparison is of stacks, not of loops. */
#define TAPIF_BUDGET 256

/* Opens TAP `tap` and brings lwIP up on it with `ip`/`prefix` (host byte order) and `mac`.
 * Returns 0, or -1 with a message on stderr. */
int tapif_start(const char *tap, uint32_t ip, uint8_t prefix, const uint8_t mac[6]);

/* One turn of the loop: sleep in poll(2) until a frame arrives or lwIP's next timer is due
 * (at most `max_sleep_ms`; -1: no limit), read up to TAPIF_BUDGET frames into lwIP, run
 * the due timers. Returns 0, or -1 when the TAP failed. */
int tapif_turn(int max_sleep_ms);

/* The seed's greeting server on `port`; runs until killed. Returns 1 on failure. */
int lwip_tap_serve(const char *tap, uint32_t ip, uint8_t prefix, const uint8_t mac[6],
                   uint16_t port);

/* GET http://server:port/uri with lwIP's httpc, the body counted and discarded; gives up
 * after `timeout_s`. Prints `N bytes` on success and returns 0; 1 otherwise. */
int lwip_tap_get(const char *tap, uint32_t ip, uint8_t prefix, const uint8_t mac[6],
                 uint32_t server, uint16_t port, const char *uri, uint32_t timeout_s);

#endif
