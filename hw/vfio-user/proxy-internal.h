/*
 * vfio-user client connection: what proxy.c, proxy-send.c, proxy-recv.c
 * and proxy-version.c share.
 *
 * Private to hw/vfio-user/proxy*.c; users go through
 * include/hw/vfio-user/proxy.h.  Holds the VFIOUserProxy definition (with
 * its locking rules), the waiter of a blocking request, the outgoing
 * message and the functions one file calls in another.
 *
 * Threads: one thread at a time holds the "reader" role (proxy->reader)
 * and reads the socket: a caller waiting for its reply when nobody else
 * reads, otherwise the receive thread (see proxy-recv.c).  Every send and
 * every receive that must not wait says MSG_DONTWAIT; the one blocking
 * receive is a reading caller's wait for its reply (bounded by the
 * socket's receive timeout).  Outgoing messages go through one FIFO
 * queue, written by whichever thread holds the "sender" role
 * (proxy->sending), never with proxy->lock held.  A caller that is the
 * sender may wait in poll() for room while its own message is unsent; a
 * reader never waits for room (it polls POLLOUT together with POLLIN, or,
 * while it blocks in a receive, the receive thread writes the queue), so
 * it always keeps reading.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_VFIO_USER_PROXY_INTERNAL_H
#define HW_VFIO_USER_PROXY_INTERNAL_H

#include "hw/vfio-user/proxy.h"
#include "hw/vfio-user/proxy-rxbuf.h"
#include "vfio-user/transport.h"

/* Pending-request table: slot = id % size; ids with a busy slot are skipped */
#define PROXY_SLOTS 1024
/* iovec entries per message: the transport's 64 minus our header. */
#define PROXY_MAX_IOV 63
/* Ghosts kept at most, so that ids never run out (see proxy-call.c). */
#define PROXY_MAX_GHOSTS (PROXY_SLOTS / 2)
/*
 * A large handler reply (a DMA_READ's data) is first sent with a send that
 * may wait for room this long, and only if it is this large.
 */
#define PROXY_TX_WAIT_MS 2
#define PROXY_TX_WAIT_MIN (64 * 1024)

/* Bytes allowed beyond max_data_xfer_size for command headers and caps. */
#define PROXY_HDR_ALLOWANCE 4096
/* Default rx_yield_us (see VFIOUserProxyOptions). */
#define PROXY_RX_YIELD_US 1000
/*
 * Replies queued by request handlers at once (pool entries, allocated
 * when first needed and reused until the proxy is freed).
 */
#define PROXY_REPLY_POOL 32
/*
 * Reply payload bytes copied into a pool entry by send_reply(); a caller's
 * message (header and payload) that fits is sent from there in one piece.
 */
#define PROXY_INLINE_REPLY 64

typedef enum WaiterState {
    WAITER_PENDING, /* in the table, nothing received for it yet */
    WAITER_CLAIMED, /* out of the table; the receive thread fills it */
    WAITER_DONE,    /* finished: err and the request's out fields are final */
} WaiterState;

/* One vfio_user_proxy_call() in progress; lives on the caller's stack. */
typedef struct VFIOUserWaiter {
    VFIOUserRequest *req;
    GThread *self; /* the calling thread */
    GCond *cond;   /* the caller's; signalled under proxy->lock when DONE */
    bool sleeping; /* the caller waits on cond (counted in proxy->sleepers) */
    uint16_t id;
    uint16_t cmd;
    WaiterState state; /* proxy->lock (also read atomically when spinning) */
    int err;           /* 0 or the errno of the failure (proxy->lock) */
    bool timed_out;    /* err is our own timeout, not a proxy failure */
    size_t reply_size; /* payload size of a reply that did not fit */
    uint64_t fence;    /* posted messages queued before this request */
} VFIOUserWaiter;

typedef enum OutState {
    OUT_QUEUED, /* in proxy->outq (possibly partly written) */
    OUT_SENT,   /* every byte is in the socket */
    OUT_FAILED, /* dropped: the connection failed or closed (err) */
} OutState;

/* One outgoing message; a caller's lives on its stack until it is sent. */
typedef struct ProxyOut {
    GList link; /* in proxy->outq */
    VFIOUserHdr hdr;
    struct iovec vec[PROXY_MAX_IOV + 2]; /* header + payload (+ inline) */
    struct iovec *iov;                   /* what is still to send */
    int iovcnt;
    const int *fds;
    size_t nfds;
    bool started;    /* the first byte went (fds with it) */
    bool in_send;    /* a sender is in sendmsg() on it: not to be freed */
    gint64 deadline; /* when it must be sent whole (0: went at once) */
    OutState state;  /* proxy->lock */
    int err;
    GCond *cond;         /* its caller's, or NULL */
    bool sleeping;       /* the caller waits on cond: signal it */
    VFIOUserSentFn done; /* pool entries: called once, lock held */
    void *done_opaque;
    bool pooled;    /* a reply-pool entry */
    bool wait_send; /* its next send may wait for room (see proxy-send.c) */
    void *heap;     /* copy of a large handler reply, or NULL */
    uint8_t inline_buf[PROXY_INLINE_REPLY];
} ProxyOut;

struct VFIOUserProxy {
    /* Constant after construction. */
    VfioUserTransport *tr; /* the connection (owned) */
    int sock;    /* tr's fd (a socket's receive timeout is the message's) */
    int wake_fd; /* eventfd: wakes the receive thread's poll() */
    char *path;
    char *label; /* starts log lines: the device as the user named it */
    uint32_t timeout_ms;
    VFIOUserCaps ours;
    VFIOUserCaps server_caps;
    VFIOUserCaps caps;   /* merged: what both sides respect */
    size_t max_msg_size; /* largest message the receive thread accepts */
    size_t max_fds;      /* fds accepted per received message */
    GThread *thread;
    /* The socket has a receive timeout: a caller may block in recvmsg(). */
    bool rx_block;
    /* It has a send timeout of PROXY_TX_WAIT_MS: see proxy-send.c. */
    bool tx_wait;
    uint32_t poll_us; /* callers spin this long before sleeping; 0 = never */
    /*
     * After handing a reply to a caller, the receive thread leaves the
     * socket to callers until none has begun to read for this long (it
     * looks again once per this period meanwhile).
     */
    gint64 rx_yield_us;

    GMutex lock; /* guards every field from here on */
    /* Written under lock with atomic stores; read atomically without it. */
    VFIOProxyState state;
    GError *fail_err;    /* why the proxy entered ERROR */
    bool notified;       /* the failure notify has run */
    bool free_on_thread; /* close() ran on the receive thread */
    unsigned users;      /* threads inside call()/post() */
    GCond users_cond;    /* broadcast when users drops to zero */
    bool users_waited;   /* destroy() waits on users_cond */
    uint16_t next_id;
    VFIOUserWaiter *slots[PROXY_SLOTS];
    /* Ids of requests that timed out; their late replies are counted. */
    bool ghost[PROXY_SLOTS];
    uint16_t ghost_id[PROXY_SLOTS];
    unsigned nghosts; /* at PROXY_MAX_GHOSTS all are forgotten */
    /* Posted ids whose (error) reply would still be counted as theirs. */
    uint8_t posted_ids[65536 / 8];
    /*
     * A request timed out and the server has not answered anything since:
     * new requests fail at once (ETIMEDOUT) instead of costing another
     * timeout each.  Any reply from the server clears it.
     */
    bool stalled;
    uint16_t stall_cmd;
    VFIOUserRequestHandler handler;
    void *handler_opaque;
    bool in_handler;          /* the reader is running the handler */
    GCond handler_cond;       /* broadcast when in_handler becomes false */
    unsigned handler_waiters; /* threads waiting on handler_cond */
    /*
     * The thread reading the socket (the receive thread or a caller), or
     * NULL; request handlers run on it.  sleepers: callers asleep on their
     * condition, whose replies someone else must read.  Until
     * rx_yield_until the receive thread leaves a free socket to callers.
     */
    GThread *reader;
    /* The reader is in a blocking receive, not poll() (atomic). */
    bool reader_blocks;
    unsigned sleepers;
    gint64 rx_yield_until;
    VFIOUserFailureNotify notify;
    void *notify_opaque;
    VFIOUserProxyStats stats;
    /* Ordering fence: written under lock, read atomically. */
    uint64_t posted_seq; /* posted messages queued so far */
    uint64_t acked_seq;  /* of those, how many a reply proves handled */

    /* Sending. */
    GQueue outq;   /* ProxyOut links, in wire order */
    bool sending;  /* a thread holds the sender role */
    bool rx_woken; /* wake_fd has an unread wake-up */
    ProxyOut *pool[PROXY_REPLY_POOL];
    unsigned pool_n;       /* pool entries allocated so far */
    GQueue pool_free;      /* free pool entries */
    GCond pool_cond;       /* broadcast when an entry is freed (lock) */
    unsigned pool_waiters; /* threads waiting on pool_cond (lock) */

    /* The reader only (no lock): the message being read. */
    VFIOUserRxBuf rx;     /* what was read and not yet taken */
    VfioUserWait rx_wait; /* how the transport waits: proxy-recv.c */
    gint64 rx_deadline;   /* read whole by then (0: no wait in it yet) */
    uint16_t req_cmd;     /* a server request: its command */
    size_t req_remaining; /* a server request: its unread payload */
};

/* proxy.c: sum of @iov lengths; false when it does not fit in a size_t. */
bool vfio_user_proxy_iov_total(const struct iovec *iov, int iovcnt,
                               size_t *out);

/* proxy.c: errno the current failure gives a woken waiter; lock held. */
int vfio_user_proxy_failure_errno_locked(VFIOUserProxy *proxy);

/*
 * proxy.c: enter ERROR (only from CONNECTED): remember @err, wake all
 * waiters, drop the queued messages and shut the socket down so that the
 * receive thread stops.  proxy->lock held.  The failure notify runs later,
 * on the receive thread.
 */
void vfio_user_proxy_fail_locked(VFIOUserProxy *proxy, const GError *err);

/* proxy.c: wake every waiter and queued message with @errnum; lock held. */
void vfio_user_proxy_wake_all_locked(VFIOUserProxy *proxy, int errnum);

/* proxy.c: finish @w (DONE) and wake it; lock held. */
void vfio_user_proxy_finish_locked(VFIOUserProxy *proxy, VFIOUserWaiter *w);

/* proxy.c: wait for call()/post() to drain, close the socket, free. */
void vfio_user_proxy_destroy(VFIOUserProxy *proxy);

/* proxy.c: make the receive thread look at the state and the queue. */
void vfio_user_proxy_wake_rx_locked(VFIOUserProxy *proxy);

/*
 * proxy-send.c: as a non-blocking sender, write what the socket takes
 * from the queue; lock held (dropped around each sendmsg()).  Returns
 * true when the queue is empty.  Does nothing if another thread sends.
 */
bool vfio_user_proxy_drain_locked(VFIOUserProxy *proxy);

/* proxy-send.c: the queue head's send deadline, or G_MAXINT64; lock held. */
gint64 vfio_user_proxy_send_deadline_locked(VFIOUserProxy *proxy);

/*
 * proxy-send.c: the queue head missed its deadline (the server stopped
 * reading): fail the connection; lock held.  True if it did.
 */
bool vfio_user_proxy_send_expired_locked(VFIOUserProxy *proxy, gint64 now);

/* proxy-send.c: drop every queued message with @errnum; lock held. */
void vfio_user_proxy_drop_queue_locked(VFIOUserProxy *proxy, int errnum);

/* proxy-send.c: set up and tear down the queue and the reply pool. */
void vfio_user_proxy_send_init(VFIOUserProxy *proxy);
void vfio_user_proxy_send_destroy(VFIOUserProxy *proxy);

/*
 * proxy-send.c: queue @m (built by the caller) and return once it is
 * sent or dropped; lock held on entry and on return.  The caller may
 * become the sender and wait in poll() for room, bounded by the message
 * deadline.  False with @errp when it was not sent.
 */
bool vfio_user_proxy_send_wait_locked(VFIOUserProxy *proxy, ProxyOut *m,
                                      GError **errp);

/* proxy-send.c: fill in @m's header and iov for sending. */
void vfio_user_proxy_out_init(ProxyOut *m, const VFIOUserHdr *hdr,
                              const struct iovec *iov, int iovcnt,
                              const int *fds, size_t nfds);

/* proxy-recv.c: set up what every reader uses. */
void vfio_user_proxy_recv_init(VFIOUserProxy *proxy);

/* proxy-recv.c: the receive thread; @opaque is the proxy. */
gpointer vfio_user_proxy_thread_main(gpointer opaque);

/*
 * proxy-recv.c: as the reader, for a caller (proxy->reader free): read
 * and dispatch messages, as the receive thread would, until @w is DONE,
 * @deadline passes before a message begins, the connection fails or
 * reading does.  Busy-polls the socket until @spin_end.  @now: the time,
 * or 0 (then the clock is read).  Lock held
 * (dropped while reading); the socket is free again on return.
 */
void vfio_user_proxy_read_for_locked(VFIOUserProxy *proxy, VFIOUserWaiter *w,
                                     gint64 now, gint64 deadline,
                                     gint64 spin_end);

/* proxy-version.c: send VERSION, check the reply, merge the capabilities. */
bool vfio_user_proxy_negotiate(VFIOUserProxy *proxy, GError **errp);

/* proxy-version.c: explain why connect() to @path failed with errno @e. */
bool vfio_user_proxy_connect_error(const char *path, int e, GError **errp);

#endif /* HW_VFIO_USER_PROXY_INTERNAL_H */
