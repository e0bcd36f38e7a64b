/* The tcplink board's work on lwIP's raw API (NO_SYS), for the footprint comparison: the
 * greeting server on port 9999 (Welcome / Hello, X! / exit) on a static address and, with
 * TCPLINK_LWIP_FULL, one GET by host name after DHCP, the body counted. The Ethernet device
 * is the LAN9118's data FIFO at the MPS2 AN385's address, reduced to word copies, so what
 * is measured is lwIP and the application, not a driver. Linked with --gc-sections. */
#include <string.h>

#include "lwip/init.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "lwip/etharp.h"
#include "netif/ethernet.h"
#if TCPLINK_LWIP_FULL
#include "lwip/dhcp.h"
#include "lwip/dns.h"
#endif

#define FIFO ((volatile uint32_t *)0x40200000u)
#define TICKS ((volatile uint32_t *)0xe000e018u) /* SysTick current value */

static struct netif netif;
static uint32_t seed = 1;

uint32_t tcplink_lwip_rand(void) {
    seed = seed * 1103515245u + 12345u;
    return seed;
}

u32_t sys_now(void) { return *TICKS; }

static err_t link_output(struct netif *n, struct pbuf *p) {
    (void)n;
    for (struct pbuf *q = p; q != NULL; q = q->next) {
        const uint8_t *b = q->payload;
        for (u16_t i = 0; i < q->len; i += 4) {
            uint32_t w;
            memcpy(&w, b + i, 4);
            *FIFO = w;
        }
    }
    return ERR_OK;
}

static err_t netif_setup(struct netif *n) {
    static const uint8_t mac[6] = {0x02, 0x00, 0x00, 0x69, 0x00, 0x02};
    n->linkoutput = link_output;
    n->output = etharp_output;
    n->mtu = 1500;
    n->hwaddr_len = 6;
    memcpy(n->hwaddr, mac, 6);
    n->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
    return ERR_OK;
}

/* Greeting server: one reply per received segment, as the seed's recv(1024). */
static err_t greet_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err) {
    (void)arg;
    (void)err;
    if (p == NULL) {
        tcp_close(pcb);
        return ERR_OK;
    }
    char msg[1024];
    u16_t len = pbuf_copy_partial(p, msg, sizeof msg, 0);
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    if (len == 4 && memcmp(msg, "exit", 4) == 0) {
        tcp_close(pcb);
        return ERR_OK;
    }
    tcp_write(pcb, "Hello, ", 7, TCP_WRITE_FLAG_COPY | TCP_WRITE_FLAG_MORE);
    tcp_write(pcb, msg, len, TCP_WRITE_FLAG_COPY | TCP_WRITE_FLAG_MORE);
    tcp_write(pcb, "!", 1, TCP_WRITE_FLAG_COPY);
    tcp_output(pcb);
    return ERR_OK;
}

static err_t greet_accept(void *arg, struct tcp_pcb *pcb, err_t err) {
    (void)arg;
    (void)err;
    tcp_recv(pcb, greet_recv);
    tcp_write(pcb, "Welcome", 7, 0);
    tcp_output(pcb);
    return ERR_OK;
}

#if TCPLINK_LWIP_FULL
static const char request[] =
    "GET /blob.bin HTTP/1.1\r\nHost: files.test:8000\r\nConnection: close\r\n\r\n";
static uint32_t body_bytes;

static err_t get_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err) {
    (void)arg;
    (void)err;
    if (p == NULL) {
        tcp_close(pcb);
        return ERR_OK;
    }
    body_bytes += p->tot_len;
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    return ERR_OK;
}

static err_t get_connected(void *arg, struct tcp_pcb *pcb, err_t err) {
    (void)arg;
    (void)err;
    tcp_recv(pcb, get_recv);
    tcp_write(pcb, request, sizeof request - 1, 0);
    tcp_output(pcb);
    return ERR_OK;
}

static void resolved(const char *name, const ip_addr_t *addr, void *arg) {
    (void)name;
    (void)arg;
    if (addr != NULL) {
        tcp_connect(tcp_new(), addr, 8000, get_connected);
    }
}
#endif

int main(void) {
    lwip_init();
    ip4_addr_t ip, mask, gw;
    IP4_ADDR(&ip, 192, 168, 69, 2);
    IP4_ADDR(&mask, 255, 255, 255, 0);
    IP4_ADDR(&gw, 192, 168, 69, 1);
#if TCPLINK_LWIP_FULL
    ip4_addr_set_zero(&ip);
    ip4_addr_set_zero(&mask);
    ip4_addr_set_zero(&gw);
#endif
    netif_add(&netif, &ip, &mask, &gw, NULL, netif_setup, ethernet_input);
    netif_set_default(&netif);
    netif_set_up(&netif);
    netif_set_link_up(&netif);

    struct tcp_pcb *listener = tcp_listen(tcp_new());
    tcp_bind(listener, IP_ADDR_ANY, 9999);
    tcp_accept(listener, greet_accept);

#if TCPLINK_LWIP_FULL
    dhcp_start(&netif);
    int asked = 0;
#endif
    for (;;) {
        /* One frame from the FIFO, if its status word says one is there. */
        uint32_t status = FIFO[1];
        u16_t len = (u16_t)(status >> 16) & 0x3fff;
        if (len != 0) {
            struct pbuf *p = pbuf_alloc(PBUF_RAW, len, PBUF_POOL);
            if (p != NULL) {
                for (struct pbuf *q = p; q != NULL; q = q->next) {
                    for (u16_t i = 0; i < q->len; i += 4) {
                        uint32_t w = *FIFO;
                        memcpy((uint8_t *)q->payload + i, &w, q->len - i < 4 ? q->len - i : 4);
                    }
                }
                if (netif.input(p, &netif) != ERR_OK) {
                    pbuf_free(p);
                }
            }
        }
        sys_check_timeouts();
#if TCPLINK_LWIP_FULL
        if (!asked && dhcp_supplied_address(&netif)) {
            ip_addr_t addr;
            asked = 1;
            if (dns_gethostbyname("files.test", &addr, resolved, NULL) == ERR_OK) {
                resolved("files.test", &addr, NULL);
            }
        }
#endif
    }
}
