/*
 * libvfio-user-server admission: who may hold the device.
 *
 * - A new client has negotiation_timeout_ms to start its VERSION request;
 *   one that connects and stays silent is dropped and the next client is
 *   accepted.  (A client that stops inside a message is already bounded
 *   by the socket timeouts of dma_timeout_ms.)
 * - While a client is served, a thread keeps accepting on the listening
 *   socket and answers every newcomer's VERSION with an EBUSY error reply,
 *   which our client reports as "device busy: another client is
 *   connected", then closes the connection.  A newcomer that sends nothing
 *   is closed after the same deadline.  The thread touches only the
 *   listening socket and its own connections, never VusServer state
 *   guarded by the server lock.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <poll.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include "internal.h"
#include "trace-events.h"

/* Longest VERSION payload a refused client may send before its answer. */
#define ADMISSION_MAX_VERSION 65536

struct VusAdmission {
    int listen_fd;
    int served_fd; /* the client being served */
    int stop_fd;   /* eventfd */
    unsigned timeout_ms;
    GThread *thread; /* NULL once stopped */
    int next_fd;     /* newcomer after the served client hung up, or -1 */
};

unsigned vus_admission_timeout_ms(VusServer *srv)
{
    return srv->opts.negotiation_timeout_ms
               ? srv->opts.negotiation_timeout_ms
               : VUS_SERVER_DEF_NEGOTIATION_TIMEOUT_MS;
}

/* Wait for @fd (or @stop_fd, -1: none) up to @timeout_ms; 1: @fd ready. */
static int admission_poll(int fd, int stop_fd, unsigned timeout_ms)
{
    struct pollfd pfd[2] = {
        {.fd = fd, .events = POLLIN},
        {.fd = stop_fd, .events = POLLIN},
    };
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

    for (;;) {
        gint64 left = (deadline - g_get_monotonic_time()) / 1000;
        int n;

        if (left <= 0) {
            return 0;
        }
        n = poll(pfd, stop_fd >= 0 ? 2 : 1, (int)left);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0 || (stop_fd >= 0 && pfd[1].revents)) {
            return n < 0 ? -1 : 0;
        }
        return 1;
    }
}

bool vus_admission_wait_first(VusServer *srv, int sock)
{
    unsigned ms = vus_admission_timeout_ms(srv);
    gint64 deadline = g_get_monotonic_time() + (gint64)ms * 1000;
    uint64_t v;

    for (;;) {
        gint64 left = (deadline - g_get_monotonic_time()) / 1000;
        int r = admission_poll(sock, srv->wake_fd, MAX(left, 0));

        if (r > 0) {
            return true;
        }
        if (g_atomic_int_get(&srv->stopping)) {
            return false;
        }
        if (r < 0 || left <= 0) {
            break;
        }
        /* A wake that was not a stop (left over from the last client). */
        if (read(srv->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN) {
            break;
        }
    }
    trace_server_version_timeout(ms);
    return false;
}

/* Answer a newcomer's VERSION with EBUSY and close it. */
static void admission_refuse(VusAdmission *a, int fd)
{
    struct timeval tv = {
        .tv_sec = a->timeout_ms / 1000,
        .tv_usec = (a->timeout_ms % 1000) * 1000,
    };
    g_autoptr(GError) err = NULL;
    int fds[VFIO_USER_MAX_FDS];
    size_t nfds = 0;
    VFIOUserHdr hdr;

    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (admission_poll(fd, a->stop_fd, a->timeout_ms) <= 0 ||
        !vfio_user_msg_recv_hdr(fd, &hdr, fds, &nfds, VFIO_USER_MAX_FDS,
                                sizeof(hdr) + ADMISSION_MAX_VERSION, &err)) {
        trace_server_second_client_refused(err ? err->message
                                               : "it sent nothing");
        close(fd);
        return;
    }
    vfio_user_close_fds(fds, nfds);
    /* Read the whole request: unread data would reset the connection. */
    if (!vfio_user_msg_discard(fd, hdr.size - sizeof(hdr), &err) ||
        !vfio_user_msg_send_error(fd, &hdr, EBUSY, &err)) {
        trace_server_second_client_refused(err->message);
    } else {
        trace_server_second_client_refused("device busy");
    }
    close(fd); /* its EOF comes after the fd is gone from our table */
}

/* Has the served client hung up (its EOF not yet seen by the loop)? */
static bool admission_served_gone(VusAdmission *a)
{
    struct pollfd pfd = {.fd = a->served_fd, .events = POLLRDHUP};

    return poll(&pfd, 1, 0) > 0 &&
           (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

static gpointer admission_thread(gpointer opaque)
{
    VusAdmission *a = opaque;

    /* Only this thread accepts while a client is served: never blocks. */
    while (admission_poll(a->listen_fd, a->stop_fd, G_MAXINT) > 0) {
        int fd = accept4(a->listen_fd, NULL, NULL, SOCK_CLOEXEC);

        if (fd < 0) {
            continue;
        }
        if (admission_served_gone(a)) {
            /* Not a second client: the next one, keep it for accept. */
            a->next_fd = fd;
            break;
        }
        admission_refuse(a, fd);
    }
    return NULL;
}

void vus_admission_start(VusServer *srv, int served_fd)
{
    VusAdmission *a;

    if (srv->listen_fd < 0 || srv->admission) {
        return;
    }
    a = g_new0(VusAdmission, 1);
    a->listen_fd = srv->listen_fd;
    a->served_fd = served_fd;
    a->next_fd = -1;
    a->timeout_ms = vus_admission_timeout_ms(srv);
    a->stop_fd = eventfd(0, EFD_CLOEXEC);
    if (a->stop_fd < 0) {
        vus_warn("cannot refuse second clients: eventfd: %s",
                 g_strerror(errno));
        g_free(a);
        return;
    }
    a->thread = g_thread_new("vfu-admission", admission_thread, a);
    srv->admission = a;
}

void vus_admission_stop(VusServer *srv)
{
    VusAdmission *a = srv->admission;
    uint64_t one = 1;

    if (!a) {
        return;
    }
    if (!a->thread) {
        /* Stopped before, and nobody took the newcomer: drop it. */
        int fd = vus_admission_take_next(srv);

        if (fd >= 0) {
            close(fd);
        }
        return;
    }
    if (write(a->stop_fd, &one, sizeof(one)) < 0) {
        vus_warn("cannot stop the admission thread: %s", g_strerror(errno));
    }
    g_thread_join(a->thread);
    a->thread = NULL;
    close(a->stop_fd);
    if (a->next_fd < 0) {
        srv->admission = NULL;
        g_free(a);
    }
}

int vus_admission_take_next(VusServer *srv)
{
    VusAdmission *a = srv->admission;
    int fd;

    if (!a || a->thread) {
        return -1;
    }
    fd = a->next_fd;
    srv->admission = NULL;
    g_free(a);
    return fd;
}
