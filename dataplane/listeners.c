/* listeners.c - the listeners' names, protocols and endpoints
 * (listeners.h). Never: binds or accepts (shard.c does, per shard). */
#include "dataplane/listeners.h"
#include "dataplane/tls.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int listener_init(struct listener *l, const struct broker_config *c, int k, int nshards,
                         char *err, size_t errlen)
{
    struct config_listener cl, adv;
    bool per_shard;
    config_listener_get(c->listeners, k, &cl);
    snprintf(l->name, sizeof l->name, "%s", cl.name);
    snprintf(l->host, sizeof l->host, "%s", cl.host);
    l->port = cl.port;
    l->protocol = config_listener_protocol(c->security_protocol_map, cl.name);
    if (l->protocol < 0) {
        seterr(err, errlen, "listener %s: not in listener.security.protocol.map (%s)", cl.name,
               c->security_protocol_map);
        return -EINVAL;
    }
    if (cl.port && cl.port + nshards - 1 > 65535) {
        seterr(err, errlen, "listener %s: shards would listen past port 65535", cl.name);
        return -EINVAL;
    }
    l->ports = calloc((size_t)nshards, sizeof *l->ports);
    l->adv_ports = calloc((size_t)nshards, sizeof *l->adv_ports);
    if (!l->ports || !l->adv_ports)
        return -ENOMEM;
    bool explicit_adv = broker_config_is_set(c, "advertised.listeners");
    for (int i = 0; i < nshards; i++) {
        if (config_advertised_entry(c, cl.name, nshards, i, &adv, &per_shard) < 0)
            adv = cl;
        if (i == 0)
            config_advertised_host(adv.host, explicit_adv, l->adv_host, sizeof l->adv_host);
        l->adv_ports[i] = !explicit_adv || adv.port == 0 ? 0
                          : per_shard                    ? adv.port
                                                         : adv.port + i;
    }
    l->adv_fixed = explicit_adv;
    return 0;
}

int listeners_init(struct listeners *ls, const struct broker_config *c, int nshards,
                   char *err, size_t errlen)
{
    struct config_listener cl;
    memset(ls, 0, sizeof *ls);
    ls->nshards = nshards;
    ls->node_id = c->node_id;
    bool tls = false;
    for (int k = 0; config_listener_get(c->listeners, k, &cl) == 0; k++) {
        if (k == LISTENERS_MAX) {
            seterr(err, errlen, "more than %d listeners", LISTENERS_MAX);
            return -EINVAL;
        }
        for (int j = 0; j < k; j++) {
            if (strcmp(ls->l[j].name, cl.name) == 0) {
                seterr(err, errlen, "listener %s: named twice in listeners", cl.name);
                return -EINVAL;
            }
        }
        int rc = listener_init(&ls->l[k], c, k, nshards, err, errlen);
        ls->n = k + 1;
        if (rc < 0)
            return rc;
        tls |= listener_is_tls(ls, k);
    }
    if (ls->n == 0) {
        seterr(err, errlen, "no usable listener in '%s'", c->listeners);
        return -EINVAL;
    }
    return tls ? tls_ctx_create(&ls->tls, c, err, errlen) : 0;
}

void listeners_close(struct listeners *ls)
{
    for (int k = 0; k < ls->n; k++) {
        free(ls->l[k].ports);
        free(ls->l[k].adv_ports);
    }
    tls_ctx_destroy(ls->tls);
    memset(ls, 0, sizeof *ls);
}

void listeners_set_port(struct listeners *ls, int k, int shard, int port)
{
    if (k >= 0 && k < ls->n && shard >= 0 && shard < ls->nshards)
        ls->l[k].ports[shard] = port;
}

static int32_t advertised_port(const struct listener *l, int shard)
{
    return l->adv_ports[shard] ? l->adv_ports[shard] : l->ports[shard];
}

void listeners_endpoint(const struct listeners *ls, int k, const struct md_broker *b,
                        struct kstr *host, int32_t *port)
{
    *host = kstr_c(b->host);
    *port = b->port;
    if (!ls || k <= 0 || k >= ls->n)
        return;
    const struct listener *l = &ls->l[k];
    int32_t shard = md_broker_shard(b->node_id);
    if (md_broker_node(b->node_id) == ls->node_id && shard < ls->nshards) {
        *host = kstr_c(l->adv_host);
        *port = advertised_port(l, shard);
    } else if (l->adv_fixed && ls->l[0].adv_fixed) {
        *port = b->port + (l->adv_ports[0] - ls->l[0].adv_ports[0]);
    }
}
