/* lwIP's compiler/platform port for a bare-metal Cortex-M3 with newlib's headers. Release
 * build: no diagnostics and no assertion messages, as tcplink's release firmware keeps none. */
#ifndef TCPLINK_LWIP_CC_H
#define TCPLINK_LWIP_CC_H

#include <stdint.h>

#define BYTE_ORDER LITTLE_ENDIAN
#define LWIP_NOASSERT
#define LWIP_PLATFORM_DIAG(x) do { } while (0)
#define LWIP_PLATFORM_ASSERT(x) do { } while (0)

uint32_t tcplink_lwip_rand(void);

#endif
