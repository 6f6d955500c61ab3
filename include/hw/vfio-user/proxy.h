/*
 * vfio-user client: one connection to a server (the "proxy").
 *
 * The proxy owns the socket, negotiates VERSION, numbers requests, matches
 * replies and runs one receive thread.  Server-to-client requests
 * (DMA_READ/DMA_WRITE) are dispatched to a handler on whichever thread
 * reads the socket, so they are served even while a caller waits for a
 * reply.
 *
 * Threads: one thread at a time reads the socket and never waits for a
 * send; outgoing messages go through a queue and are written with
 * non-blocking sends (see proxy-internal.h).  A caller queues its request
 * and waits until it is sent (zero-copy: its buffers are used in place).
 * Then, when nobody else reads, it reads the socket itself until its reply
 * is in (the fast path: no thread hand-off, one receive for header and
 * payload); otherwise it waits on its own condition for the reply, which
 * the reader (usually the receive thread) scatters straight into the
 * caller's buffers.
 *
 * Deadlines are per message: a message that has begun (either direction)
 * must be complete within the message timeout of its first byte, or the
 * connection fails.  A request that gets no reply in time fails with
 * ETIMEDOUT, and until the server answers anything again later requests
 * fail at once (so a stalled server costs one timeout, not one each).
 *
 * Failure model: when the server hangs up, sends something malformed or
 * stalls in a message, the proxy enters VFIO_PROXY_ERROR, closes the
 * socket, and every waiter returns at once with an error (ECONNRESET,
 * EPROTO or ETIMEDOUT), never after its timeout.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_VFIO_USER_PROXY_H
#define HW_VFIO_USER_PROXY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include <glib.h>
#include "vfio-user/caps.h"
#include "vfio-user/protocol.h"

typedef struct VFIOUserProxy VFIOUserProxy;

typedef enum VFIOProxyState {
    VFIO_PROXY_CONNECTED, /* negotiated (or negotiating), usable */
    VFIO_PROXY_ERROR,     /* peer failed; every call fails at once */
    VFIO_PROXY_CLOSING,   /* vfio_user_proxy_close() in progress */
    VFIO_PROXY_CLOSED,
} VFIOProxyState;

#define VFIO_USER_DEF_MSG_TIMEOUT_MS 5000

typedef struct VFIOUserProxyOptions {
    uint32_t msg_timeout_ms; /* per blocking request; 0 = default 5000 */
    VFIOUserCaps caps;       /* what we offer in VERSION */
    /*
     * x-poll-us: a caller waiting for a reply spins up to this many
     * microseconds (polling the socket when it reads its own reply, else
     * checking whether the reader has delivered it) before it sleeps.  0 (the
     * default) = sleep at once.  Worth it only when the server runs on another
     * CPU (there it saves the wake-up, about half the round trip); on a shared
     * CPU the spinning delays the server.
     */
    uint32_t poll_us;
    /*
     * After the receive thread has handed a reply to a caller, it leaves
     * the socket to callers (each reads its own reply, no thread hand-off)
     * until none has begun to read for this many microseconds; a server
     * request that arrives while nobody reads waits at most that long.
     * 0 = the default, 1000.
     */
    uint32_t rx_yield_us;
    /*
     * The device in the proxy's log lines, as the user named it (see
     * vfio_user_pci_label()); copied.  NULL: the socket path.
     */
    const char *label;
} VFIOUserProxyOptions;

/* Fills in defaults: 5000 ms, vfio_user_caps_init_ours(). */
void vfio_user_proxy_options_init(VFIOUserProxyOptions *opts);

/*
 * Server-to-client request handler, called on the thread that reads the
 * socket (the receive thread, or a caller waiting for its own reply) after
 * the header passed the transport checks.  The payload (hdr->size - 16 bytes)
 * is still in the socket: the handler must consume all of it with
 * vfio_user_proxy_recv_payload()/_discard() (bounded by the message's
 * deadline), then answer with vfio_user_proxy_send_reply(),
 * vfio_user_proxy_send_reply_async() or vfio_user_proxy_send_error(),
 * which queue the reply and never wait for the server to read it.  It owns
 * @fds (close what it does not keep).  Returning false (with @errp set)
 * declares a protocol violation: the connection is dropped.
 */
typedef bool (*VFIOUserRequestHandler)(VFIOUserProxy *proxy,
                                       const VFIOUserHdr *hdr, int *fds,
                                       size_t nfds, void *opaque,
                                       GError **errp);

/* Called (once, from whichever thread saw it) when the proxy fails. */
typedef void (*VFIOUserFailureNotify)(VFIOUserProxy *proxy, const GError *err,
                                      void *opaque);

/*
 * Connect to @path and negotiate.  Errors give the cause, not the path
 * (the caller names the device, see hw/vfio-user/pci.h): no
 * such file, connection refused (no server listening), not a socket,
 * permission denied, negotiation failures (timeout, bad JSON, other major).
 * On success the receive thread runs and the proxy is CONNECTED.
 */
VFIOUserProxy *vfio_user_proxy_connect(const char *path,
                                       const VFIOUserProxyOptions *opts,
                                       GError **errp);

/* The same on an already-connected socket (tests, socketpair); takes @sock. */
VFIOUserProxy *vfio_user_proxy_new_from_fd(int sock,
                                           const VFIOUserProxyOptions *opts,
                                           GError **errp);

/*
 * For tests and fuzzers: a proxy on any transport (taken), with no
 * receive thread.  A blocking request reads and dispatches the messages
 * that come (server requests included) on its own thread until its reply
 * is in; vfio_user_proxy_pump() does one such step between requests.  Not
 * for proxies used from more than one thread.
 */
typedef struct VfioUserTransport VfioUserTransport;
VFIOUserProxy *vfio_user_proxy_new_inline(VfioUserTransport *tr,
                                          const VFIOUserProxyOptions *opts,
                                          GError **errp);

/*
 * Inline proxies only: read and dispatch one message.  False (@errp set)
 * when that failed: the proxy is then in ERROR, as after a receive
 * thread's failure (the failure notify has run).
 */
bool vfio_user_proxy_pump(VFIOUserProxy *proxy, GError **errp);

/*
 * Register the server-to-client request handler (before DMA_MAP).  On
 * return the previous handler is no longer running (unless this is called
 * from it) and will not be called again.
 */
void vfio_user_proxy_set_request_handler(VFIOUserProxy *proxy,
                                         VFIOUserRequestHandler fn,
                                         void *opaque);
void vfio_user_proxy_set_failure_notify(VFIOUserProxy *proxy,
                                        VFIOUserFailureNotify fn, void *opaque);

/* Orderly shutdown: fail pending waiters (ECANCELED), join the thread,
 * close the socket, free.  NULL is fine. */
void vfio_user_proxy_close(VFIOUserProxy *proxy);

/* Negotiated capabilities (valid after connect). */
const VFIOUserCaps *vfio_user_proxy_caps(VFIOUserProxy *proxy);
const VFIOUserCaps *vfio_user_proxy_server_caps(VFIOUserProxy *proxy);
VFIOProxyState vfio_user_proxy_state(VFIOUserProxy *proxy);
const char *vfio_user_proxy_path(VFIOUserProxy *proxy);
/* What log lines about this connection start with: opts->label or the
 * path.  Constant while the proxy lives. */
const char *vfio_user_proxy_label(VFIOUserProxy *proxy);

/*
 * A blocking request.  Caller fills cmd, the payload iov and optional fds
 * (at most the negotiated max_msg_fds), and where the reply payload goes:
 * @reply_iov (scatter; may point into guest memory) and room for fds.
 * On return: reply_len = payload bytes received, reply_nfds = fds stored
 * (owned by the caller), reply_errno = errno from an error reply (0 if none).
 */
typedef struct VFIOUserRequest {
    uint16_t cmd;
    const struct iovec *iov; /* payload, header not included */
    int iovcnt;
    const int *fds;
    size_t nfds;
    bool no_reply;           /* posted: see vfio_user_proxy_post() */
    struct iovec *reply_iov; /* where the reply payload goes */
    int reply_iovcnt;
    int *reply_fds;
    size_t reply_max_fds;
    /* out */
    size_t reply_len;
    size_t reply_nfds;
    int reply_errno;
} VFIOUserRequest;

/*
 * Send @req and wait for its reply, at most the message timeout after it
 * was sent (a reply that has begun by then gets its own message deadline).
 * Returns false with @errp on: send failure, timeout (ETIMEDOUT; also at
 * once while an earlier request's timeout is unanswered), proxy
 * failure (ECONNRESET / EPROTO, at once), a reply larger than reply_iov
 * (EMSGSIZE; the payload is discarded, the connection stays up).  An error
 * *reply* from the server is not a false return: it is reply_errno, so the
 * caller decides what it means (e.g. DMA_MAP fallback on EINVAL).
 */
bool vfio_user_proxy_call(VFIOUserProxy *proxy, VFIOUserRequest *req,
                          GError **errp);

/*
 * Send @req with the no-reply flag and return once it is written (its
 * buffers are used in place, so this waits for room in the socket,
 * bounded by the message timeout).  A server that still answers it with an
 * error reply gets that error counted (posted_errors) and logged, never
 * dropped silently, however many posted requests are outstanding.
 */
bool vfio_user_proxy_post(VFIOUserProxy *proxy, VFIOUserRequest *req,
                          GError **errp);

/*
 * For request handlers, on the reader's thread (see VFIOUserRequestHandler).
 * send_reply() copies the payload (into a preallocated entry when it has
 * at most 64 bytes, else into an allocation) and queues the reply.
 */
bool vfio_user_proxy_recv_payload(VFIOUserProxy *proxy, struct iovec *iov,
                                  int iovcnt, GError **errp);
bool vfio_user_proxy_discard(VFIOUserProxy *proxy, size_t len, GError **errp);
bool vfio_user_proxy_send_reply(VFIOUserProxy *proxy, const VFIOUserHdr *req,
                                const struct iovec *iov, int iovcnt,
                                GError **errp);

/*
 * Called once when a reply queued by vfio_user_proxy_send_reply_async() is
 * written whole (@sent) or dropped because the connection failed or
 * closed.  Runs on whichever thread sent it, with the proxy's lock held:
 * it must not call the proxy.
 */
typedef void (*VFIOUserSentFn)(void *opaque, bool sent);

/*
 * Zero-copy reply: @prefix (at most 64 bytes, copied) then @iov, which is
 * used in place (e.g. guest memory) until @done runs; no allocation.  At
 * most 62 iov entries.  Returns false (with @errp, @done not called) when
 * it could not be queued; the connection has then failed.
 */
bool vfio_user_proxy_send_reply_async(VFIOUserProxy *proxy,
                                      const VFIOUserHdr *req,
                                      const void *prefix, size_t prefix_len,
                                      const struct iovec *iov, int iovcnt,
                                      VFIOUserSentFn done, void *opaque,
                                      GError **errp);

/*
 * PCI ordering: true when posted requests were sent that no later reply
 * has yet proven handled by the server.  Before a path that reaches the
 * device outside the message stream (mmapped BAR access, ioeventfd), a
 * caller that sees true makes one round trip (any blocking request): the
 * server handles a connection's messages in order.  Lock-free.
 */
bool vfio_user_proxy_posted_unacked(VFIOUserProxy *proxy);
bool vfio_user_proxy_send_error(VFIOUserProxy *proxy, const VFIOUserHdr *req,
                                int errnum, GError **errp);

/* Counters for `info vfio-user`, tests and benchmarks. */
typedef struct VFIOUserProxyStats {
    uint64_t requests;        /* blocking requests sent */
    uint64_t posted;          /* no-reply requests sent */
    uint64_t replies;         /* matched replies */
    uint64_t error_replies;   /* replies with the error flag */
    uint64_t posted_errors;   /* error replies to posted requests */
    uint64_t unknown_replies; /* late, duplicate or never-sent ids */
    uint64_t timeouts;
    uint64_t server_requests; /* DMA_READ/WRITE etc. received */
    uint64_t own_reads;       /* calls that read their reply themselves */
    uint64_t late_replies;    /* replies to requests that had timed out */
    uint64_t fast_fails;      /* requests refused while the server stalled */
} VFIOUserProxyStats;
void vfio_user_proxy_get_stats(VFIOUserProxy *proxy, VFIOUserProxyStats *out);

#endif /* HW_VFIO_USER_PROXY_H */
