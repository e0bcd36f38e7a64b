/* A tapif-style lwIP netif on a Linux TAP (after lwIP contrib's ports/unix tapif.c): frames
 * are read from the non-blocking TAP descriptor into pool pbufs and handed to
 * ethernet_input, lwIP's output is copied out with one write(2) per frame. NO_SYS: one
 * thread, sys_now() from CLOCK_MONOTONIC. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "lwip/etharp.h"
#include "lwip/init.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"

#include "port.h"

/* An Ethernet frame without FCS at MTU 1500. */
#define FRAME_MAX 1514

static struct netif tap_netif;
static int tap_fd = -1;
static uint8_t tap_mac[6];

u32_t sys_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (u32_t)((u64_t)ts.tv_sec * 1000u + (u64_t)ts.tv_nsec / 1000000u);
}

static err_t tapif_output(struct netif *netif, struct pbuf *p) {
    unsigned char frame[FRAME_MAX];
    (void)netif;
    if (p->tot_len > sizeof frame) {
        return ERR_BUF;
    }
    u16_t len = pbuf_copy_partial(p, frame, p->tot_len, 0);
    if (write(tap_fd, frame, len) != (ssize_t)len) {
        /* Dropped, as a busy NIC would: TCP retransmits. */
        return ERR_IF;
    }
    return ERR_OK;
}

static err_t tapif_init(struct netif *netif) {
    netif->name[0] = 't';
    netif->name[1] = 'p';
    netif->output = etharp_output;
    netif->linkoutput = tapif_output;
    netif->mtu = 1500;
    netif->hwaddr_len = 6;
    memcpy(netif->hwaddr, tap_mac, 6);
    netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
    return ERR_OK;
}

int tapif_start(const char *tap, uint32_t ip, uint8_t prefix, const uint8_t mac[6]) {
    struct ifreq ifr;
    tap_fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (tap_fd < 0) {
        perror("lwip-tap: /dev/net/tun");
        return -1;
    }
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", tap);
    if (ioctl(tap_fd, TUNSETIFF, &ifr) < 0) {
        fprintf(stderr, "lwip-tap: cannot attach TAP %s: %s\n", tap, strerror(errno));
        return -1;
    }
    memcpy(tap_mac, mac, 6);
    lwip_init();
    ip4_addr_t addr, mask, gw;
    ip4_addr_set_u32(&addr, lwip_htonl(ip));
    ip4_addr_set_u32(&mask, prefix == 0 ? 0 : lwip_htonl(0xffffffffu << (32 - prefix)));
    ip4_addr_set_zero(&gw);
    if (netif_add(&tap_netif, &addr, &mask, &gw, NULL, tapif_init, ethernet_input) == NULL) {
        fprintf(stderr, "lwip-tap: netif_add failed\n");
        return -1;
    }
    netif_set_default(&tap_netif);
    netif_set_up(&tap_netif);
    netif_set_link_up(&tap_netif);
    return 0;
}

/* Reads up to TAPIF_BUDGET frames into lwIP; returns how many, or -1 if the TAP failed. */
static int tapif_drain(void) {
    unsigned char frame[FRAME_MAX];
    int n;
    for (n = 0; n < TAPIF_BUDGET; n++) {
        ssize_t len = read(tap_fd, frame, sizeof frame);
        if (len < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                break;
            }
            perror("lwip-tap: read TAP");
            return -1;
        }
        if (len == 0) {
            break;
        }
        struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_POOL);
        if (p == NULL) {
            continue; /* out of pool buffers: dropped */
        }
        pbuf_take(p, frame, (u16_t)len);
        if (tap_netif.input(p, &tap_netif) != ERR_OK) {
            pbuf_free(p);
        }
    }
    return n;
}

int tapif_turn(int max_sleep_ms) {
    u32_t due = sys_timeouts_sleeptime();
    int timeout = due == SYS_TIMEOUTS_SLEEPTIME_INFINITE ? -1 : (int)due;
    if (max_sleep_ms >= 0 && (timeout < 0 || timeout > max_sleep_ms)) {
        timeout = max_sleep_ms;
    }
    struct pollfd pfd = {.fd = tap_fd, .events = POLLIN};
    if (poll(&pfd, 1, timeout) < 0 && errno != EINTR) {
        perror("lwip-tap: poll");
        return -1;
    }
    /* Drain until a read finds nothing or the budget is spent; a spent budget polls again
     * at once (poll(2) returns immediately while frames wait). */
    if (tapif_drain() < 0) {
        return -1;
    }
    sys_check_timeouts();
    return 0;
}
