/*
 * vfu-bench bare client: the server library driven without the client
 * library.  After VERSION, each REGION_READ is one send() of the request
 * and one recv() of the reply on the calling thread: no receive thread, no
 * request table.  Set next to the full client's figure and the raw socket
 * round trip, it splits the cost of a region access between the server
 * library and the client library.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include "bench.h"
#include "vfio-user/caps.h"
#include "vfio-user/error.h"
#include "vfio-user/transport.h"

static bool bare_io(int sock, void *buf, size_t len, bool is_write,
                    GError **errp)
{
    ssize_t n = is_write ? send(sock, buf, len, MSG_NOSIGNAL)
                         : recv(sock, buf, len, MSG_WAITALL);

    if (n != (ssize_t)len) {
        return vfio_user_error_set(errp, n < 0 ? errno : EPROTO,
                                   "bare client: short %s",
                                   is_write ? "send" : "receive");
    }
    return true;
}

bool bench_bare_connect(BenchConn *c, GError **errp)
{
    g_autofree void *version = NULL;
    g_autofree uint8_t *reply = NULL;
    VFIOUserCaps caps;
    struct timeval tv = {.tv_sec = 10};
    VFIOUserHdr hdr;
    size_t len;

    /* A short error reply would leave a full-size receive waiting. */
    if (setsockopt(c->sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
        return vfio_user_error_set(errp, errno, "SO_RCVTIMEO: %s",
                                   g_strerror(errno));
    }
    vfio_user_caps_init_ours(&caps);
    version = vfio_user_caps_build_version(&caps, &len);
    vfio_user_hdr_init(&hdr, 0, VFIO_USER_VERSION, sizeof(hdr) + len,
                       VFIO_USER_F_TYPE_REQUEST);
    if (!vfio_user_msg_send(c->sock, &hdr, version, len, NULL, 0, errp) ||
        !bare_io(c->sock, &hdr, sizeof(hdr), false, errp)) {
        return false;
    }
    if ((hdr.flags & VFIO_USER_F_ERROR) || hdr.size < sizeof(hdr) ||
        hdr.size > 65536) {
        return vfio_user_error_set(errp, EPROTO,
                                   "bare client: VERSION refused");
    }
    reply = g_malloc(hdr.size - sizeof(hdr) + 1);
    return bare_io(c->sock, reply, hdr.size - sizeof(hdr), false, errp);
}

bool bench_bare_read_batch(void *opaque, uint64_t iters, double *ns,
                           GError **errp)
{
    BenchConn *c = opaque;
    struct {
        VFIOUserHdr hdr;
        VFIOUserRegionRW rw;
    } req;
    uint8_t reply[sizeof(VFIOUserHdr) + sizeof(VFIOUserRegionRW) + 4];
    VFIOUserHdr rhdr;
    uint64_t t0 = bench_now_ns();

    G_STATIC_ASSERT(sizeof(req) == 32);
    for (uint64_t i = 0; i < iters; i++) {
        vfio_user_hdr_init(&req.hdr, (uint16_t)(i + 1), VFIO_USER_REGION_READ,
                           sizeof(req), VFIO_USER_F_TYPE_REQUEST);
        req.rw = (VFIOUserRegionRW){
            .offset = BENCH_REG_SCRATCH,
            .region = VFIO_PCI_BAR0_REGION_INDEX,
            .count = 4,
        };
        if (!bare_io(c->sock, &req, sizeof(req), true, errp) ||
            !bare_io(c->sock, reply, sizeof(reply), false, errp)) {
            return false;
        }
        memcpy(&rhdr, reply, sizeof(rhdr));
        if (rhdr.size != sizeof(reply) || (rhdr.flags & VFIO_USER_F_ERROR)) {
            return vfio_user_error_set(errp, EPROTO,
                                       "bare client: bad REGION_READ reply");
        }
    }
    *ns = (double)(bench_now_ns() - t0);
    return true;
}
