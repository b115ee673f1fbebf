/* transport_none.c - the DPDK transport where libsluice-send is built
 * without DPDK: it says so. */
#include "sender/transport.h"

#include <errno.h>
#include <stdio.h>

int send_transport_dpdk(struct send_transport **out, const struct sluice_send_config *cfg,
                        uint32_t ip, uint16_t port, char *err, size_t errlen)
{
    (void)out;
    (void)cfg;
    (void)ip;
    (void)port;
    snprintf(err, errlen, "this libsluice-send was built without DPDK");
    return -ENOTSUP;
}
