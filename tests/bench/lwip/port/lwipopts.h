/* lwIP options for the footprint comparison: NO_SYS raw API on a Cortex-M3, IPv4 over
 * Ethernet, sized like the tcplink board (4 greeting connections + 1 GET, 1 KiB windows).
 * TCPLINK_LWIP_FULL=0: TCP only (the greeting build); 1: + UDP, DHCP, DNS (the GET build).
 * Anything the tcplink board does not do is off (fragmentation, IGMP, stats, debug). */
#ifndef TCPLINK_LWIPOPTS_H
#define TCPLINK_LWIPOPTS_H

#ifndef TCPLINK_LWIP_FULL
#define TCPLINK_LWIP_FULL 0
#endif

#define NO_SYS                      1
#define SYS_LIGHTWEIGHT_PROT        0
#define LWIP_SOCKET                 0
#define LWIP_NETCONN                0
#define LWIP_IPV4                   1
#define LWIP_IPV6                   0
#define LWIP_ARP                    1
#define LWIP_ETHERNET               1
#define LWIP_ICMP                   1   /* the board answers ping too */
#define LWIP_RAW                    0
#define LWIP_TCP                    1
#define LWIP_UDP                    TCPLINK_LWIP_FULL
#define LWIP_DHCP                   TCPLINK_LWIP_FULL
#define LWIP_DNS                    TCPLINK_LWIP_FULL
#define LWIP_ACD                    0
#define LWIP_DHCP_DOES_ACD_CHECK    0
#define LWIP_IGMP                   0
#define LWIP_AUTOIP                 0
#define IP_REASSEMBLY               0
#define IP_FRAG                     0
#define LWIP_STATS                  0
#define LWIP_NETIF_STATUS_CALLBACK  0
#define LWIP_NETIF_LINK_CALLBACK    0
#define LWIP_SINGLE_NETIF           1

/* Memory: 5 TCP connections with ~1 KiB each way, frames from a pool. */
#define MEM_ALIGNMENT               4
#define MEM_SIZE                    (6 * 1024)
#define MEMP_NUM_TCP_PCB            5
#define MEMP_NUM_TCP_PCB_LISTEN     1
#define MEMP_NUM_TCP_SEG            16
#define MEMP_NUM_UDP_PCB            (2 * TCPLINK_LWIP_FULL)
#define PBUF_POOL_SIZE              6
#define TCP_MSS                     536
#define TCP_WND                     (2 * TCP_MSS)
#define TCP_SND_BUF                 (2 * TCP_MSS)
#define TCP_SND_QUEUELEN            8
#define ARP_TABLE_SIZE              4
#define DNS_TABLE_SIZE              1
#define DNS_MAX_NAME_LENGTH         128

#define LWIP_RAND()                 tcplink_lwip_rand()

#endif
