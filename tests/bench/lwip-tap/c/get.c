/* One GET with lwIP's own HTTP client (apps/http/http_client.c): the body is counted and
 * discarded as it arrives, its window reopened at once. */
#include <stdio.h>

#include "lwip/apps/http_client.h"
#include "lwip/sys.h"
#include "lwip/tcp.h"

#include "port.h"

static u32_t body_bytes;
static int finished;
static httpc_result_t outcome;
static u32_t status;

static err_t get_body(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err) {
    (void)arg;
    (void)err;
    if (p != NULL) {
        body_bytes += p->tot_len;
        tcp_recved(pcb, p->tot_len);
        pbuf_free(p);
    }
    return ERR_OK;
}

static void get_done(void *arg, httpc_result_t result, u32_t rx_content_len, u32_t srv_res,
                     err_t err) {
    (void)arg;
    (void)rx_content_len;
    (void)err;
    outcome = result;
    status = srv_res;
    finished = 1;
}

int lwip_tap_get(const char *tap, uint32_t ip, uint8_t prefix, const uint8_t mac[6],
                 uint32_t server, uint16_t port, const char *uri, uint32_t timeout_s) {
    if (tapif_start(tap, ip, prefix, mac) != 0) {
        return 1;
    }
    ip_addr_t addr;
    ip_addr_set_ip4_u32(&addr, lwip_htonl(server));
    static httpc_connection_t settings;
    settings.result_fn = get_done;
    httpc_state_t *state;
    if (httpc_get_file(&addr, port, uri, &settings, get_body, NULL, &state) != ERR_OK) {
        fprintf(stderr, "lwip-tap: httpc_get_file failed\n");
        return 1;
    }
    u32_t start = sys_now();
    while (!finished) {
        u32_t waited = sys_now() - start;
        if (waited >= timeout_s * 1000u) {
            fprintf(stderr, "lwip-tap: GET timed out after %u s (%u bytes)\n", timeout_s,
                    body_bytes);
            return 1;
        }
        if (tapif_turn((int)(timeout_s * 1000u - waited)) != 0) {
            return 1;
        }
    }
    if (outcome != HTTPC_RESULT_OK || status != 200) {
        fprintf(stderr, "lwip-tap: GET failed: result %d, status %u, %u bytes\n", (int)outcome,
                status, body_bytes);
        return 1;
    }
    printf("%u bytes\n", body_bytes);
    return 0;
}
