/*
 * libvfio-user-server serving loop: waiting for the client (a blocking
 * recvmsg(), or poll() with the ioeventfds and the wake eventfd), reading
 * the next message through the receive buffer and handing it to the
 * dispatcher (server.c), and letting a run of posted writes accumulate.
 *
 * When no other thread can read the connection (no ioeventfd to watch, no
 * message-mode DMA map) the loop waits in recvmsg() itself, with the lock
 * dropped: a request then costs one recvmsg() and one sendmsg(), as a
 * plain socket server's would.  Otherwise it waits in poll() and reads
 * without blocking.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include "internal.h"
#include "trace-events.h"

#define SERVE_BURST 64 /* messages read between two polls, at most */

/* Read-ahead of the serving loop: a run of posted writes in one call. */
#define LOOP_AHEAD 65536

/* Read the next message into srv->msg (payload in the receive buffer). */
static VfioUserRecvResult read_msg(VusServer *srv, GError **errp)
{
    VfioUserMsg *msg = &srv->msg;
    VfioUserRecvResult res =
        vus_rx_hdr(srv, &msg->hdr, msg->fds, &msg->nfds, LOOP_AHEAD, errp);

    if (res != VFIO_USER_RECV_OK) {
        return res;
    }
    msg->len = msg->hdr.size - sizeof(VFIOUserHdr); /* checked */
    if (!vus_rx_payload(srv, msg->len, LOOP_AHEAD, &msg->payload, errp)) {
        vfio_user_close_fds(msg->fds, msg->nfds);
        msg->nfds = 0;
        return VFIO_USER_RECV_ERROR;
    }
    return VFIO_USER_RECV_OK;
}

/* Reply nobody waits for (late, or a confused client): drop it. */
static void drop_reply(VfioUserMsg *msg)
{
    trace_server_unexpected_reply(msg->hdr.id,
                                  vfio_user_cmd_name(msg->hdr.cmd));
}

/* What serve_one() did. */
typedef enum ServeResult {
    SERVED_NONE,    /* nothing had arrived, or the connection broke */
    SERVED_POSTED,  /* a message that got no reply (posted, or a reply) */
    SERVED_REPLIED, /* a request, answered */
} ServeResult;

/*
 * Read and handle the next message if one has arrived.  After a posted
 * one another probably follows at once (posted writes come in runs);
 * after a reply the client is most likely waiting for it, so the loop
 * polls before it reads again.
 */
static ServeResult serve_one(VusServer *srv)
{
    GError *err = NULL;
    VfioUserMsg *msg = &srv->msg;

    switch (read_msg(srv, &err)) {
    case VFIO_USER_RECV_NONE:
        return SERVED_NONE;
    case VFIO_USER_RECV_ERROR:
        vus_server_mark_broken(srv, err);
        return SERVED_NONE;
    case VFIO_USER_RECV_OK:
        break;
    }
    if (vfio_user_hdr_is_reply(&msg->hdr)) {
        drop_reply(msg);
        vfio_user_close_fds(msg->fds, msg->nfds);
        return SERVED_POSTED;
    }
    /* A handler's DMA may read on: its request stays where it is. */
    vus_rx_pin(srv, true);
    vus_server_handle(srv, msg);
    vus_rx_pin(srv, false);
    return msg->hdr.flags & VFIO_USER_F_NO_REPLY ? SERVED_POSTED
                                                 : SERVED_REPLIED;
}

/*
 * Wait for the socket, the wake eventfd or an ioeventfd (lock dropped),
 * up to @timeout_ms.  True when the socket has something to read.
 */
static bool wait_events(VusServer *srv, int timeout_ms)
{
    struct pollfd pfd[2 + VUS_MAX_REGIONS * VUS_MAX_IOEVENTFDS];
    int iofds[VUS_MAX_REGIONS * VUS_MAX_IOEVENTFDS];
    size_t n = vus_regions_poll_fds(srv, iofds, G_N_ELEMENTS(iofds));

    pfd[0] = (struct pollfd){.fd = srv->sock, .events = POLLIN};
    pfd[1] = (struct pollfd){.fd = srv->wake_fd, .events = POLLIN};
    for (size_t i = 0; i < n; i++) {
        pfd[2 + i] = (struct pollfd){.fd = iofds[i], .events = POLLIN};
    }
    g_rec_mutex_unlock(&srv->lock);
    if (poll(pfd, 2 + n, timeout_ms) < 0) {
        if (errno != EINTR) {
            vus_warn("poll: %s", g_strerror(errno));
        }
        pfd[0].revents = pfd[1].revents = 0;
        n = 0;
    }
    g_rec_mutex_lock(&srv->lock);
    if (pfd[1].revents) {
        vus_server_drain_wake(srv);
    }
    for (size_t i = 0; i < n; i++) {
        if (pfd[2 + i].revents & POLLIN) {
            vus_regions_ioeventfd_fired(srv, iofds[i]);
        }
    }
    return pfd[0].revents != 0;
}

/*
 * Can the loop wait in recvmsg() with the lock dropped?  Only when nothing
 * else needs watching and no other thread reads the connection: a device
 * thread reads it during message-mode DMA.  Not before VERSION either.
 */
static bool can_block(VusServer *srv)
{
    return srv->negotiated && srv->nr_msg_maps == 0 &&
           !vus_regions_have_ioeventfds(srv);
}

/*
 * Wait for bytes in recvmsg(), lock dropped.  vus_server_stop() and a
 * device thread's vus_server_mark_broken() end the wait with shutdown().
 * Between messages the wait has no limit; with part of a message buffered
 * it has the socket's receive timeout, and a client that stops there is
 * dropped as in poll mode.
 */
static void serve_blocking(VusServer *srv)
{
    bool mid = vus_rx_avail(srv) > 0;
    GError *err = NULL;
    ssize_t n = -1;

    vus_rx_set_timeout(srv, mid);
    g_atomic_int_set(&srv->reader_blocked, 1);
    if (!srv->broken && !g_atomic_int_get(&srv->stopping)) {
        g_rec_mutex_unlock(&srv->lock);
        n = vus_rx_fill(srv, LOOP_AHEAD, 0, &err);
        g_rec_mutex_lock(&srv->lock);
    }
    g_atomic_int_set(&srv->reader_blocked, 0);
    if (srv->broken || g_atomic_int_get(&srv->stopping)) {
        g_clear_error(&err);
    } else if (n == 0) {
        vus_server_mark_broken(
            srv, vus_rx_avail(srv)
                     ? g_error_new(VFIO_USER_ERROR, EPROTO,
                                   "peer closed the connection mid-message")
                     : g_error_new(VFIO_USER_ERROR, ECONNRESET,
                                   "peer closed the connection"));
    } else if (n == -2) {
        vus_server_mark_broken(srv, err);
    } else if (n == -1 && mid && srv->rcv_timeout) {
        vus_server_mark_broken(srv, g_error_new(VFIO_USER_ERROR, EAGAIN,
                                                "receive failed: %s",
                                                g_strerror(EAGAIN)));
    }
    /* Else n == -1 is a transport's own timeout: read again. */
}

/*
 * Posted writes sent one by one, client and server on one CPU: each would
 * wake the server, which preempts the sender, serves that one message and
 * sleeps again: two context switches per write.  So when everything the
 * loop served since its last wait wanted no reply, it gives up the CPU
 * once (lock dropped) before it waits again.  A sender on the same CPU
 * then goes on sending while the server is runnable, which wakes nobody,
 * and the loop takes what came meanwhile in one read.  A sender that
 * waits for a reply gives the CPU back at once, and so does a CPU with
 * nothing else to run; the loop never yields after a reply, when the
 * client is most likely waiting for the next one.
 */
static void yield_after_posted(VusServer *srv, int *served)
{
    if (*served == 1) {
        g_rec_mutex_unlock(&srv->lock);
        sched_yield();
        g_rec_mutex_lock(&srv->lock);
    }
    *served = 0;
}

/* What was served since the last wait: 0 nothing, 1 only posted, -1 else. */
static int note_served(int served, ServeResult r)
{
    if (r == SERVED_NONE) {
        return served;
    }
    return r == SERVED_POSTED && served >= 0 ? 1 : -1;
}

/*
 * Serve until the client goes or a stop.  Queued requests come first, then
 * whole messages already in the receive buffer; with the buffer empty (or
 * holding part of a message) the loop reads in a blocking recvmsg() when
 * it can (can_block()), else it polls.  In poll mode the socket is read
 * without a poll() first when a message is probably there; a read finding
 * nothing costs no more than the poll would have.  Not when the device has
 * ioeventfds: one signalled before a request was sent is still handled
 * before that request, so the loop polls (without waiting) before each.
 * Every SERVE_BURST messages the loop polls and drops the lock, so that a
 * steady stream of posted writes does not keep device threads from it.
 * Before a wait that follows posted writes only, it yields once
 * (yield_after_posted()).
 */
void vus_serve_loop(VusServer *srv)
{
    bool read_first = false;
    unsigned burst = 0;
    int served = 0;
    VfioUserMsg msg;
    ServeResult r;

    while (!srv->broken && !g_atomic_int_get(&srv->stopping)) {
        if (vus_pending_pop(srv, &msg)) {
            served = note_served(served, msg.hdr.flags & VFIO_USER_F_NO_REPLY
                                             ? SERVED_POSTED
                                             : SERVED_REPLIED);
            vus_server_handle(srv, &msg);
            continue;
        }
        if (vus_rx_has_msg(srv)) {
            if (burst >= SERVE_BURST || vus_regions_have_ioeventfds(srv)) {
                wait_events(srv, 0);
                burst = 0;
            }
            served = note_served(served, serve_one(srv));
            burst++;
            continue;
        }
        if (can_block(srv)) {
            yield_after_posted(srv, &served);
            serve_blocking(srv);
            burst = 0;
            continue;
        }
        if (!read_first || burst >= SERVE_BURST) {
            if (!read_first) {
                yield_after_posted(srv, &served);
            }
            read_first = wait_events(srv, read_first ? 0 : -1);
            burst = 0;
            if (!read_first) {
                continue;
            }
        }
        /* Another thread may have read what woke us: never block here. */
        r = serve_one(srv);
        served = note_served(served, r);
        read_first = r == SERVED_POSTED && !vus_regions_have_ioeventfds(srv);
        burst++;
    }
}
