/*
 * wire.c - one Kafka request over a blocking socket, with the codec's
 * schemas (see wire.h for why the CLI needs it at all).
 */
#include "cli/wire.h"

#include "dataplane/kafka/api.h"
#include "dataplane/kafka/codec.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WIRE_MAX_FRAME (64u << 20)

static int64_t mono_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int wire_connect(struct wire *w, const char *host, int port, int timeout_ms)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	char portstr[16];
	memset(w, 0, sizeof(*w));
	w->fd = -1;
	w->timeout_ms = timeout_ms;
	snprintf(portstr, sizeof(portstr), "%d", port);
	if (getaddrinfo(host, portstr, &hints, &res) != 0)
		return -EHOSTUNREACH;
	int rc = -ECONNREFUSED;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			w->fd = fd;
			rc = 0;
			break;
		}
		rc = -errno;
		close(fd);
	}
	freeaddrinfo(res);
	return rc;
}

int wire_connect_str(struct wire *w, const char *hostport, int timeout_ms)
{
	char host[256];
	const char *colon = strrchr(hostport, ':');
	if (!colon || (size_t)(colon - hostport) >= sizeof(host))
		return -EINVAL;
	memcpy(host, hostport, (size_t)(colon - hostport));
	host[colon - hostport] = '\0';
	return wire_connect(w, host, atoi(colon + 1), timeout_ms);
}

void wire_close(struct wire *w)
{
	if (w->fd >= 0)
		close(w->fd);
	free(w->buf);
	w->fd = -1;
	w->buf = NULL;
}

/* Waits until fd is ready for events or the deadline passes. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	int64_t left = deadline - mono_ms();
	struct pollfd p = { .fd = fd, .events = events };
	if (left <= 0)
		return -ETIMEDOUT;
	int n = poll(&p, 1, (int)left);
	return n < 0 ? -errno : n == 0 ? -ETIMEDOUT : 0;
}

static int send_all(struct wire *w, const uint8_t *p, size_t n, int64_t deadline)
{
	while (n > 0) {
		int rc = wait_fd(w->fd, POLLOUT, deadline);
		if (rc < 0)
			return rc;
		ssize_t k = send(w->fd, p, n, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -EPIPE;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static int recv_all(struct wire *w, uint8_t *p, size_t n, int64_t deadline)
{
	while (n > 0) {
		int rc = wait_fd(w->fd, POLLIN, deadline);
		if (rc < 0)
			return rc;
		ssize_t k = recv(w->fd, p, n, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -ECONNRESET;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* The request frame: length, header (v1, or v2 when flexible), body. */
static uint8_t *encode(struct wire *w, int16_t key, int16_t version, const void *req, size_t *len)
{
	struct kafka_request_header h = { .api_key = key, .api_version = version,
					  .correlation_id = ++w->corr,
					  .client_id = KSTR_LIT("sluice-cli"),
					  .version = kafka_api_is_flexible(key, version) ? 2 : 1 };
	struct kwriter cw;
	kwriter_init(&cw, NULL, SIZE_MAX);
	kw_int32(&cw, 0);
	kafka_request_header_write(&cw, &h);
	if (kafka_request_encode(&cw, key, version, req) < 0)
		return NULL;
	uint8_t *buf = malloc(cw.len);
	struct kwriter bw;
	if (!buf)
		return NULL;
	kwriter_init(&bw, buf, cw.len);
	kw_int32(&bw, (int32_t)(cw.len - 4));
	kafka_request_header_write(&bw, &h);
	kafka_request_encode(&bw, key, version, req);
	*len = bw.len;
	return buf;
}

int wire_call(struct wire *w, int16_t key, int16_t version, const void *req,
	      struct kafka_arena *a, void **resp)
{
	int64_t deadline = mono_ms() + w->timeout_ms;
	size_t len;
	uint8_t hdr[4], *frame = encode(w, key, version, req, &len);
	if (!frame)
		return -EINVAL;
	int rc = send_all(w, frame, len, deadline);
	free(frame);
	if (rc == 0)
		rc = recv_all(w, hdr, 4, deadline);
	if (rc < 0)
		return rc;
	uint32_t n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
	if (n < 4 || n > WIRE_MAX_FRAME)
		return -EBADMSG;
	free(w->buf);
	if (!(w->buf = malloc(n)))
		return -ENOMEM;
	if ((rc = recv_all(w, w->buf, n, deadline)) < 0)
		return rc;
	struct kreader r;
	kreader_init(&r, w->buf, n);
	if (kr_int32(&r) != w->corr)
		return -EBADMSG;
	if (kafka_response_header_version(key, version) >= 1)
		kr_tags_skip(&r);
	if (r.err)
		return -EBADMSG;
	return kafka_response_decode(&r, key, version, a, resp);
}
