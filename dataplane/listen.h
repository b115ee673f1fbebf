/* listen.h - the listening sockets of the broker: every shard's Kafka
 * port and the ops thread's HTTP port. */
#ifndef SLUICE_DATAPLANE_LISTEN_H
#define SLUICE_DATAPLANE_LISTEN_H

/* Binds host:port (NULL or "": every interface; port 0: any free port),
 * listens with backlog, and sets *out_port to the port bound. Returns the
 * socket (SOCK_CLOEXEC, SO_REUSEADDR) or a negative errno. */
int tcp_listen(const char *host, int port, int backlog, int *out_port);

#endif
