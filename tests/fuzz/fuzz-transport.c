/*
 * libFuzzer target: a byte stream from a peer, read as vfio-user messages
 * by the transport (header check, then body or discard).  Must end with an
 * error or EOF, never crash, hang or leak.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/socket.h>
#include "vfio-user/transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int sv[2], fds[4], buf_sz = 1 << 20;
    uint8_t body[256];

    if (size > 65536 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        return 0;
    }
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &buf_sz, sizeof(buf_sz));
    if (size && write(sv[0], data, size) != (ssize_t)size) {
        abort();
    }
    close(sv[0]);
    for (;;) {
        VFIOUserHdr hdr;
        size_t nfds, len;
        GError *err = NULL;
        bool ok;

        if (!vfio_user_msg_recv_hdr(sv[1], &hdr, fds, &nfds, 4, 4096 + 16,
                                    &err)) {
            g_error_free(err);
            break;
        }
        if (hdr.size < sizeof(hdr) || hdr.size > 4096 + 16) {
            abort();
        }
        len = hdr.size - sizeof(hdr);
        ok = len <= sizeof(body)
                 ? vfio_user_msg_recv_body(sv[1], body, len, &err)
                 : vfio_user_msg_discard(sv[1], len, &err);
        vfio_user_close_fds(fds, nfds);
        if (!ok) {
            g_error_free(err);
            break;
        }
    }
    close(sv[1]);
    return 0;
}
