/* lwIP options of the TAP contender of tcplink-bench (issue 16): NO_SYS raw API, IPv4 over
 * Ethernet, sized like `tcplink-tap serve --sockets 64` and its GET:
 *   - 64 TCP PCBs (connections, TIME-WAIT included) + 1 listening PCB;
 *   - MSS 1460, receive window 1 MiB (window scaling, shift 5), as tcplink-tap's GET socket;
 *   - send buffer 8 KiB per connection (the greeting replies are a few bytes);
 *   - 768 pool pbufs of one full frame each (a wake-up's budget is 256 frames), 1 MiB heap
 *     for outgoing segments.
 * Checksums are computed and checked in software, as smoltcp does. No stats, no debug. */
#ifndef TCPLINK_LWIP_TAP_OPTS_H
#define TCPLINK_LWIP_TAP_OPTS_H

#define NO_SYS                      1
#define SYS_LIGHTWEIGHT_PROT        0
#define LWIP_SOCKET                 0
#define LWIP_NETCONN                0
#define LWIP_IPV4                   1
#define LWIP_IPV6                   0
#define LWIP_ARP                    1
#define LWIP_ETHERNET               1
#define LWIP_ICMP                   1
#define LWIP_RAW                    0
#define LWIP_TCP                    1
#define LWIP_UDP                    0
#define LWIP_DHCP                   0
#define LWIP_DNS                    0
#define LWIP_ACD                    0
#define LWIP_IGMP                   0
#define LWIP_AUTOIP                 0
#define IP_REASSEMBLY               0
#define IP_FRAG                     0
#define LWIP_STATS                  0
#define LWIP_NETIF_STATUS_CALLBACK  0
#define LWIP_NETIF_LINK_CALLBACK    0
#define LWIP_SINGLE_NETIF           1
#define LWIP_ALTCP                  0

#define MEM_ALIGNMENT               8
#define MEM_SIZE                    (1024 * 1024)
#define MEMP_NUM_TCP_PCB            64
#define MEMP_NUM_TCP_PCB_LISTEN     1
#define MEMP_NUM_TCP_SEG            1024
#define MEMP_NUM_PBUF               64
#define PBUF_POOL_SIZE              768
#define ARP_TABLE_SIZE              4

#define TCP_MSS                     1460
#define LWIP_WND_SCALE              1
#define TCP_RCV_SCALE               5
#define TCP_WND                     (1024 * 1024)
#define TCP_SND_BUF                 (8 * 1024)
#define TCP_SND_QUEUELEN            32
#define TCP_QUEUE_OOSEQ             1
#define TCP_OOSEQ_MAX_PBUFS         256
#define TCP_LISTEN_BACKLOG          0
#define LWIP_CHKSUM_ALGORITHM       3

#endif
