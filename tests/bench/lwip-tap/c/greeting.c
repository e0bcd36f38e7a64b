/* The seed's greeting server (tcp_server.py) on lwIP's raw API: `Welcome` on accept, one
 * `Hello, X!` per received segment (the seed's recv(1024)), close on `exit` or when the
 * peer closes; the seed's log lines on stdout. */
#include <stdio.h>
#include <string.h>

#include "lwip/tcp.h"

#include "port.h"

static void log_close(struct tcp_pcb *pcb) {
    printf("Connection from %s:%u close.\n", ip4addr_ntoa(&pcb->remote_ip), pcb->remote_port);
}

/* Retried from the poll timer while lwIP has no memory for the FIN. */
static err_t greet_close_retry(void *arg, struct tcp_pcb *pcb) {
    (void)arg;
    (void)tcp_close(pcb);
    return ERR_OK;
}

static void greet_close(struct tcp_pcb *pcb) {
    log_close(pcb);
    tcp_recv(pcb, NULL);
    if (tcp_close(pcb) != ERR_OK) {
        tcp_poll(pcb, greet_close_retry, 1);
    }
}

static err_t greet_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err) {
    (void)arg;
    (void)err;
    if (p == NULL) {
        greet_close(pcb);
        return ERR_OK;
    }
    char msg[1024];
    u16_t len = pbuf_copy_partial(p, msg, p->tot_len < sizeof msg ? p->tot_len : sizeof msg, 0);
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    if (len == 4 && memcmp(msg, "exit", 4) == 0) {
        greet_close(pcb);
        return ERR_OK;
    }
    char reply[sizeof msg + 8];
    memcpy(reply, "Hello, ", 7);
    memcpy(reply + 7, msg, len);
    reply[7 + len] = '!';
    /* The segment is consumed (freed above): anything but ERR_OK or ERR_ABRT would make
     * lwIP keep it as refused data. Without memory for the reply the session cannot go on. */
    if (tcp_write(pcb, reply, (u16_t)(len + 8), TCP_WRITE_FLAG_COPY) != ERR_OK) {
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    return ERR_OK;
}

static err_t greet_accept(void *arg, struct tcp_pcb *pcb, err_t err) {
    (void)arg;
    if (err != ERR_OK || pcb == NULL) {
        return ERR_VAL;
    }
    printf("Accept new connection from %s:%u...\n", ip4addr_ntoa(&pcb->remote_ip),
           pcb->remote_port);
    tcp_recv(pcb, greet_recv);
    return tcp_write(pcb, "Welcome", 7, 0);
}

int lwip_tap_serve(const char *tap, uint32_t ip, uint8_t prefix, const uint8_t mac[6],
                   uint16_t port) {
    if (tapif_start(tap, ip, prefix, mac) != 0) {
        return 1;
    }
    struct tcp_pcb *pcb = tcp_new();
    if (pcb == NULL || tcp_bind(pcb, IP4_ADDR_ANY, port) != ERR_OK) {
        fprintf(stderr, "lwip-tap: cannot bind port %u\n", port);
        return 1;
    }
    pcb = tcp_listen(pcb);
    if (pcb == NULL) {
        fprintf(stderr, "lwip-tap: cannot listen\n");
        return 1;
    }
    tcp_accept(pcb, greet_accept);
    printf("Waiting for connection...\n");
    fflush(stdout);
    for (;;) {
        if (tapif_turn(-1) != 0) {
            return 1;
        }
        fflush(stdout);
    }
}
