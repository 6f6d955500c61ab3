/*
 * Replay of recorded sessions between real vfio-user peers (libvfio-user's
 * sample client/server and gpio device, copied into tests/data/) through our
 * transport and parsers: every message must cross a real socket intact and
 * decode to what the peers meant.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <glib.h>
#include "vfio-user/caps.h"
#include "vfio-user/error.h"
#include "vfio-user/transport.h"

#include "vfu-test.h"

/* Send every message of a session through a socket pair and read it back
 * with the transport; header fields and payload bytes must be unchanged. */
static void replay_transport(gconstpointer data)
{
    g_autoptr(GPtrArray) recs = vut_load_session(data);
    int sv[2];
    g_autofree guint8 *buf = g_malloc(1 << 20);

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    g_assert_cmpuint(recs->len, >, 10);
    for (guint i = 0; i < recs->len; i++) {
        VutRecord *r = recs->pdata[i];
        g_autofree guint8 *wire = g_malloc0(r->payload_len + 1);
        VFIOUserHdr in;
        size_t nfds, plen = g_bytes_get_size(r->payload);
        g_autoptr(GError) err = NULL;

        g_assert_cmpuint(r->hdr.size, ==, sizeof(r->hdr) + r->payload_len);
        memcpy(wire, g_bytes_get_data(r->payload, NULL), plen);
        g_assert_true(vfio_user_msg_send(sv[0], &r->hdr, wire, r->payload_len,
                                         NULL, 0, &err));
        g_assert_true(vfio_user_msg_recv_hdr(sv[1], &in, NULL, &nfds, 0,
                                             (1 << 20) + 16, &err));
        g_assert_no_error(err);
        g_assert_cmpmem(&in, sizeof(in), &r->hdr, sizeof(r->hdr));
        g_assert_true(
            vfio_user_msg_recv_body(sv[1], buf, in.size - sizeof(in), &err));
        g_assert_cmpmem(buf, plen, wire, plen);
    }
    close(sv[0]);
    close(sv[1]);
}

/* Both sides' VERSION payloads decode; libvfio-user's reply limits fds to 8
 * and carries its page size in "migration" (no longer in the specification,
 * ignored). */
static void test_version(void)
{
    g_autoptr(GPtrArray) recs =
        vut_load_session("libvfio-user-sample-client-server.jsonl");
    VFIOUserCaps client, server, ours, merged;
    g_autoptr(GError) err = NULL;
    VutRecord *req = recs->pdata[0], *rep = recs->pdata[1];

    g_assert_cmpuint(req->hdr.cmd, ==, VFIO_USER_VERSION);
    g_assert_cmpuint(rep->hdr.cmd, ==, VFIO_USER_VERSION);
    g_assert_true(vfio_user_caps_parse_version(
        g_bytes_get_data(req->payload, NULL), g_bytes_get_size(req->payload),
        &client, &err));
    g_assert_no_error(err);
    g_assert_true(vfio_user_caps_parse_version(
        g_bytes_get_data(rep->payload, NULL), g_bytes_get_size(rep->payload),
        &server, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(server.max_msg_fds, ==, 8);
    g_assert_cmpuint(server.max_data_xfer_size, ==, 1048576);
    vfio_user_caps_init_ours(&ours);
    g_assert_true(vfio_user_caps_merge(&ours, &server, &merged, &err));
    g_assert_cmpuint(merged.max_msg_fds, ==, 8);
    g_assert_false(merged.write_multiple);
}

/* Region info replies: walk the capability chain of the recorded sparse
 * BAR and check every offset stays inside the reply. */
static void test_region_info_caps(void)
{
    g_autoptr(GPtrArray) recs =
        vut_load_session("libvfio-user-access-modes.jsonl");
    unsigned sparse_seen = 0;

    for (guint i = 0; i < recs->len; i++) {
        VutRecord *r = recs->pdata[i];
        const guint8 *p;
        VFIOUserRegionInfo info;
        size_t len;
        uint32_t off;

        if (r->c2s || r->hdr.cmd != VFIO_USER_DEVICE_GET_REGION_INFO ||
            (r->hdr.flags & VFIO_USER_F_ERROR)) {
            continue;
        }
        p = g_bytes_get_data(r->payload, &len);
        g_assert_cmpuint(len, >=, sizeof(info));
        memcpy(&info, p, sizeof(info));
        if (!(info.flags & VFIO_REGION_INFO_FLAG_CAPS) || len < info.argsz) {
            continue;
        }
        for (off = info.cap_offset; off;) {
            VFIOUserCapHdr ch;

            g_assert_cmpuint(off + sizeof(ch), <=, len);
            memcpy(&ch, p + off, sizeof(ch));
            if (ch.id == VFIO_REGION_INFO_CAP_SPARSE_MMAP) {
                VFIOUserCapSparseMmap sm;
                VFIOUserSparseArea a;

                memcpy(&sm, p + off, sizeof(sm));
                g_assert_cmpuint(sm.nr_areas, >=, 1);
                g_assert_cmpuint(off + sizeof(sm) + sm.nr_areas * sizeof(a), <=,
                                 len);
                for (uint32_t k = 0; k < sm.nr_areas; k++) {
                    memcpy(&a, p + off + sizeof(sm) + k * sizeof(a), sizeof(a));
                    g_assert_cmpuint(a.offset + a.size, <=, info.size);
                }
                sparse_seen++;
                g_assert_cmpuint(r->nfds, ==, 1);
            }
            g_assert_true(ch.next == 0 || ch.next > off);
            off = ch.next;
        }
    }
    g_assert_cmpuint(sparse_seen, >=, 1);
}

/* The access-mode session: every DMA_MAP request decodes, and the flag
 * combinations cover the seed's cases. */
static void test_dma_map_flags(void)
{
    g_autoptr(GPtrArray) recs =
        vut_load_session("libvfio-user-access-modes.jsonl");
    unsigned with_fd_mode = 0, modes_without_fd = 0, both = 0, unknown = 0;

    for (guint i = 0; i < recs->len; i++) {
        VutRecord *r = recs->pdata[i];
        VFIOUserDMAMap m;

        if (!r->c2s || r->hdr.cmd != VFIO_USER_DMA_MAP) {
            continue;
        }
        g_assert_cmpuint(g_bytes_get_size(r->payload), ==, sizeof(m));
        memcpy(&m, g_bytes_get_data(r->payload, NULL), sizeof(m));
        g_assert_cmpuint(m.argsz, ==, sizeof(m));
        g_assert_cmpuint(m.size, >, 0);
        if ((m.flags & VFIO_USER_DMA_MAP_F_MODES) ==
            VFIO_USER_DMA_MAP_F_MODES) {
            both++;
        } else if ((m.flags & VFIO_USER_DMA_MAP_F_MODES) && r->nfds) {
            with_fd_mode++;
        } else if (m.flags & VFIO_USER_DMA_MAP_F_MODES) {
            modes_without_fd++;
        }
        if (m.flags & ~VFIO_USER_DMA_MAP_F_ALL) {
            unknown++;
        }
    }
    g_assert_cmpuint(with_fd_mode, >=, 2);
    g_assert_cmpuint(modes_without_fd, >=, 2);
    g_assert_cmpuint(both, >=, 2);
    g_assert_cmpuint(unknown, >=, 1);
}

/* Server-to-client DMA requests use the 8-byte count: data starts at
 * payload offset 16 and the sizes add up. */
static void test_dma_rw_layout(void)
{
    g_autoptr(GPtrArray) recs =
        vut_load_session("libvfio-user-sample-client-server.jsonl");
    unsigned reads = 0, writes = 0;

    for (guint i = 0; i < recs->len; i++) {
        VutRecord *r = recs->pdata[i];
        VFIOUserDMARW rw;

        if (r->hdr.cmd != VFIO_USER_DMA_READ &&
            r->hdr.cmd != VFIO_USER_DMA_WRITE) {
            continue;
        }
        g_assert_cmpuint(g_bytes_get_size(r->payload), >=, sizeof(rw));
        memcpy(&rw, g_bytes_get_data(r->payload, NULL), sizeof(rw));
        if (r->hdr.cmd == VFIO_USER_DMA_WRITE && !r->c2s) {
            g_assert_cmpuint(r->payload_len, ==, sizeof(rw) + rw.count);
            writes++;
        } else if (r->hdr.cmd == VFIO_USER_DMA_READ && r->c2s) {
            g_assert_cmpuint(r->payload_len, ==, sizeof(rw) + rw.count);
            reads++;
        } else {
            /* DMA_READ request / DMA_WRITE reply: header only. */
            g_assert_cmpuint(r->payload_len, ==, sizeof(rw));
        }
    }
    g_assert_cmpuint(reads, >=, 1);
    g_assert_cmpuint(writes, >=, 1);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_data_func("/vectors/transport/sample-client-server",
                         "libvfio-user-sample-client-server.jsonl",
                         replay_transport);
    g_test_add_data_func("/vectors/transport/gpio",
                         "libvfio-user-gpio-client.jsonl", replay_transport);
    g_test_add_data_func("/vectors/transport/access-modes",
                         "libvfio-user-access-modes.jsonl", replay_transport);
    g_test_add_func("/vectors/version", test_version);
    g_test_add_func("/vectors/region-info-caps", test_region_info_caps);
    g_test_add_func("/vectors/dma-map-flags", test_dma_map_flags);
    g_test_add_func("/vectors/dma-rw-layout", test_dma_rw_layout);
    return g_test_run();
}
