/*
 * vfio-user client connection: what proxy.c, proxy-version.c and
 * proxy-recv.c share.
 *
 * Private to hw/vfio-user/proxy*.c; users go through
 * include/hw/vfio-user/proxy.h.  Holds the VFIOUserProxy definition (with
 * its locking rules), the waiter of a blocking request, the trace macro and
 * the functions one file calls in another.  Include it after defining
 * G_LOG_DOMAIN.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_VFIO_USER_PROXY_INTERNAL_H
#define HW_VFIO_USER_PROXY_INTERNAL_H

#include "hw/vfio-user/proxy.h"
#include "vfio-user/transport.h"

/* Pending-request table: slot = id % size; ids with a busy slot are skipped */
#define PROXY_SLOTS 1024
/* Posted requests remembered so that an error reply to one can be named. */
#define PROXY_POSTED_RING 64
/*
 * How long the socket stays with callers after the last call ended before
 * the receive thread takes it back (and so how late a server request that
 * arrives while no call is in progress may be noticed).
 */
#define PROXY_IDLE_WINDOW_US 1000

/*
 * Trace points: g_debug() in this log domain, shown with
 * G_MESSAGES_DEBUG=vfio-user-proxy.  Checking first keeps the formatting
 * (and its allocation) off the hot path when tracing is off.
 */
#if GLIB_CHECK_VERSION(2, 68, 0)
#define proxy_trace(...)                                                       \
    do {                                                                       \
        if (!g_log_writer_default_would_drop(G_LOG_LEVEL_DEBUG,                \
                                             G_LOG_DOMAIN)) {                  \
            g_debug(__VA_ARGS__);                                              \
        }                                                                      \
    } while (0)
#else
#define proxy_trace(...) g_debug(__VA_ARGS__)
#endif

typedef enum WaiterState {
    WAITER_PENDING, /* in the table, nothing received for it yet */
    WAITER_CLAIMED, /* out of the table; the receive thread fills it */
    WAITER_DONE,    /* finished: err and the request's out fields are final */
} WaiterState;

/* One vfio_user_proxy_call() in progress; lives on the caller's stack. */
typedef struct VFIOUserWaiter {
    VFIOUserRequest *req;
    GList link;  /* in proxy->token_queue while it waits to read */
    bool queued; /* link is in proxy->token_queue (proxy->lock) */
    GCond cond;  /* signalled under proxy->lock when state is DONE */
    uint16_t id;
    uint16_t cmd;
    WaiterState state; /* proxy->lock */
    int err;           /* 0 or the errno of the failure (proxy->lock) */
    bool timed_out;    /* err is our own timeout, not a proxy failure */
    size_t reply_size; /* payload size of a reply that did not fit */
} VFIOUserWaiter;

typedef struct PostedEntry {
    uint16_t id;
    uint16_t cmd;
    bool valid;
} PostedEntry;

struct VFIOUserProxy {
    /* Constant after construction. */
    int sock;
    char *path;
    uint32_t timeout_ms;
    VFIOUserCaps ours;
    VFIOUserCaps server_caps;
    VFIOUserCaps caps;   /* merged: what both sides respect */
    size_t max_msg_size; /* largest message the receive thread accepts */
    size_t max_fds;      /* fds accepted per received message */
    GThread *thread;
    uint32_t poll_us; /* spin this long before sleeping; 0 = never */

    GMutex lock; /* guards every field from here to send_lock */
    VFIOProxyState state;
    GError *fail_err;    /* why the proxy entered ERROR */
    bool notified;       /* the failure notify has run */
    bool free_on_thread; /* close() ran on the receive thread */
    unsigned users;      /* threads inside call()/post() */
    GCond users_cond;    /* broadcast when users drops to zero */
    bool users_waited;   /* destroy() waits on users_cond */
    uint16_t next_id;
    VFIOUserWaiter *slots[PROXY_SLOTS];
    PostedEntry posted[PROXY_POSTED_RING];
    unsigned posted_next;
    VFIOUserRequestHandler handler;
    void *handler_opaque;
    bool in_handler;    /* the receive thread is running the handler */
    GCond handler_cond; /* broadcast when in_handler becomes false */
    VFIOUserFailureNotify notify;
    void *notify_opaque;
    VFIOUserProxyStats stats;

    /*
     * The reader token: at most one thread reads the socket.  It is the
     * receive thread (rx_reading), one waiting caller (reader), or nobody
     * for a short while after a call ended (released_at).  Callers that
     * wait for a reply while someone else reads queue for the token.
     */
    VFIOUserWaiter *reader;
    bool rx_reading;
    bool rx_asleep;     /* the receive thread waits on rx_cond untimed */
    GCond rx_cond;      /* wakes the receive thread */
    gint64 released_at; /* when a caller last gave the token back */
    GQueue token_queue; /* VFIOUserWaiter links, oldest first */
    bool fwd_valid;     /* a caller passed a server request to the thread */
    VFIOUserHdr fwd_hdr;
    int fwd_fds[VFU_MAX_FDS];
    size_t fwd_nfds;

    GMutex send_lock; /* held while one whole message is written */

    /* Reader-token holder only: the server request being handled. */
    uint16_t req_cmd;     /* its command, for messages */
    size_t req_remaining; /* its unread payload */
};

/* proxy.c: sum of @iov lengths; false when it does not fit in a size_t. */
bool vfio_user_proxy_iov_total(const struct iovec *iov, int iovcnt,
                               size_t *out);

/* proxy.c: errno the current failure gives a woken waiter; lock held. */
int vfio_user_proxy_failure_errno_locked(VFIOUserProxy *proxy);

/*
 * proxy.c: enter ERROR (only from CONNECTED): remember @err, wake all
 * waiters, and shut the socket down so that the receive thread stops.
 * proxy->lock held.  The failure notify runs later, on the receive thread.
 */
void vfio_user_proxy_fail_locked(VFIOUserProxy *proxy, const GError *err);

/* proxy.c: finish @w (DONE), drop it from the token queue, wake it. */
void vfio_user_proxy_finish_locked(VFIOUserProxy *proxy, VFIOUserWaiter *w);

/* proxy.c: wait for call()/post() to drain, close the socket, free. */
void vfio_user_proxy_destroy(VFIOUserProxy *proxy);

/*
 * proxy-recv.c: read and dispatch one message as the token holder.  On a
 * caller (@on_rx false) a server request is passed to the receive thread
 * together with the token instead of being handled.
 */
bool vfio_user_proxy_recv_one(VFIOUserProxy *proxy, bool on_rx, GError **errp);

/*
 * proxy-recv.c: the token holder gives the token up: to the oldest queued
 * caller, else to nobody (the receive thread takes it back later).
 */
void vfio_user_proxy_pass_token_locked(VFIOUserProxy *proxy);

/*
 * proxy-recv.c: as the calling token holder, read (and pass on) one
 * message if one comes before @deadline, spinning first for poll_us.
 * proxy->lock held on entry and on return, dropped meanwhile.
 */
void vfio_user_proxy_read_step_locked(VFIOUserProxy *proxy, gint64 deadline);

/* proxy-recv.c: the receive thread; @opaque is the proxy. */
gpointer vfio_user_proxy_thread_main(gpointer opaque);

/* proxy-version.c: send VERSION, check the reply, merge the capabilities. */
bool vfio_user_proxy_negotiate(VFIOUserProxy *proxy, GError **errp);

/* proxy-version.c: explain why connect() to @path failed with errno @e. */
bool vfio_user_proxy_connect_error(const char *path, int e, GError **errp);

#endif /* HW_VFIO_USER_PROXY_INTERNAL_H */
