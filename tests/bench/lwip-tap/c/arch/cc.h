/* lwIP's compiler/platform port for Linux (glibc), host C compiler. */
#ifndef TCPLINK_LWIP_TAP_CC_H
#define TCPLINK_LWIP_TAP_CC_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Release build, as the footprint build and tcplink's release: no assertions. */
#define LWIP_NOASSERT
#define LWIP_PLATFORM_DIAG(x) do { printf x; } while (0)
#define LWIP_PLATFORM_ASSERT(x) do { fprintf(stderr, "lwIP assertion: %s (%s:%d)\n", x, __FILE__, __LINE__); abort(); } while (0)
#define LWIP_RAND() ((u32_t)random())

#endif
