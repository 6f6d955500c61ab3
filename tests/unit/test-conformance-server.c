/*
 * Spec conformance of libvfio-user-server: each case replays the exchange a
 * conforming client makes (QEMU's, a client with a small transfer limit, a
 * client that does or does not ask for posted-error replies...) against
 * the test device of server-conn.c, and checks the answer the
 * specification calls for.  See the conformance table in
 * docs/interop/vfio-user.rst.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include "server-conn.h"
#include "vfu-test.h"

/*
 * What QEMU's client does with a region info reply (hw/vfio-user/device.c
 * and hw/vfio/device.c): _CAPS with cap_offset outside [32, argsz] is
 * EINVAL; a reply argsz above what was offered means "ask again".
 */
static int qemu_check_region_info(const VFIOUserRegionInfo *ri, uint32_t room)
{
    uint32_t argsz = MIN(ri->argsz, room);

    if ((ri->flags & VFIO_REGION_INFO_FLAG_CAPS) &&
        (ri->cap_offset < sizeof(*ri) || ri->cap_offset > argsz)) {
        return EINVAL;
    }
    return 0;
}

/* Point 1: argsz 32 first, as QEMU asks, for every region of the device. */
static void test_region_info_qemu_first_ask(void)
{
    TestConn *tc = tc_start(NULL);
    const uint32_t regions[] = {0, 1, 2, TEST_REGION_DEV};

    for (size_t i = 0; i < G_N_ELEMENTS(regions); i++) {
        uint32_t room = sizeof(VFIOUserRegionInfo);
        VFIOUserRegionInfo ri;
        TestReply r;

        g_assert_cmpint(region_info(tc, regions[i], room, &r), ==, 0);
        g_assert_cmpuint(r.len, ==, sizeof(ri));
        memcpy(&ri, r.data, sizeof(ri));
        g_assert_cmpint(qemu_check_region_info(&ri, room), ==, 0);
        /* _MMAP only when the fd came with this very reply. */
        g_assert_cmpuint(!!(ri.flags & VFIO_REGION_INFO_FLAG_MMAP), ==,
                         r.nfds == 1);
        tc_reply_clear(&r);
        if (ri.argsz <= room) {
            continue;
        }
        /* The retry with what the server asked for gets everything. */
        room = ri.argsz;
        g_assert_cmpint(region_info(tc, regions[i], room, &r), ==, 0);
        memcpy(&ri, r.data, sizeof(ri));
        g_assert_cmpuint(r.len, ==, room);
        g_assert_cmpint(qemu_check_region_info(&ri, room), ==, 0);
        g_assert_true(ri.flags & VFIO_REGION_INFO_FLAG_CAPS);
        g_assert_cmpuint(ri.cap_offset, ==, sizeof(ri));
        g_assert_cmpuint(!!(ri.flags & VFIO_REGION_INFO_FLAG_MMAP), ==,
                         r.nfds == 1);
        tc_reply_clear(&r);
    }
    g_assert_true(tc_finish(tc));
}

/*
 * Point 3: each side's max_data_xfer_size is what it can receive.  A client
 * that offered 4 KiB may still send up to the server's own limit (16 KiB
 * here); only beyond that is the request refused, and the connection stays.
 */
static void test_xfer_limit_is_ours(void)
{
    const uint32_t ours = 16384;
    VusServerOptions opts = {.dma_timeout_ms = 0};
    g_autofree uint8_t *out = g_malloc(ours + 1);
    g_autofree uint8_t *in = g_malloc0(ours + 1);
    TestConn *tc;

    vfio_user_caps_init_ours(&opts.caps);
    opts.caps.max_data_xfer_size = ours;
    tc = tc_new(&opts);
    tc_negotiate(tc, 4096);
    g_assert_cmpuint(tc->server_caps.max_data_xfer_size, ==, ours);
    for (uint32_t i = 0; i <= ours; i++) {
        out[i] = (uint8_t)(i * 7 + 1);
    }
    /* BAR1 is 16 KiB of memory: one message for all of it, both ways. */
    g_assert_cmpint(tc_region_write(tc, 1, 0, out, ours), ==, 0);
    g_assert_cmpint(tc_region_read(tc, 1, 0, in, ours), ==, 0);
    g_assert_cmpmem(in, ours, out, ours);
    /* One byte over the server's own limit: refused, still connected. */
    g_assert_cmpint(tc_region_write(tc, 1, 0, out, ours + 1), ==, EINVAL);
    g_assert_cmpint(tc_region_read(tc, 1, 0, in, ours + 1), ==, EINVAL);
    g_assert_cmpint(tc_region_read(tc, 1, 0, in, 4), ==, 0);
    g_assert_true(tc_finish(tc));
}

/* A posted REGION_WRITE to a region that does not exist: it fails. */
static uint16_t posted_bad_write(TestConn *tc)
{
    VFIOUserRegionRW rw = {.region = 200, .count = 4};
    uint8_t m[sizeof(rw) + 4] = {0};

    memcpy(m, &rw, sizeof(rw));
    m[sizeof(rw)] = 1;
    return tc_send(tc, VFIO_USER_REGION_WRITE,
                   VFIO_USER_F_TYPE_REQUEST | VFIO_USER_F_NO_REPLY, m,
                   sizeof(m), NULL, 0);
}

/*
 * Point 4: a client that does not ask for "x-vfu-posted-errors" (QEMU's)
 * gets no reply at all to a failed No_reply request, as specified; the
 * next reply it reads is the one to its next request.
 */
static void test_posted_error_not_asked(void)
{
    TestConn *tc = tc_new(NULL);
    VFIOUserCaps caps;
    uint32_t v;

    vfio_user_caps_init_defaults(&caps);
    caps.minor = 0; /* QEMU's client says 0.0 */
    tc_negotiate_caps(tc, &caps);
    g_assert_false(tc->server_caps.posted_errors);
    posted_bad_write(tc);
    /* tc_wait() asserts that the first reply is for this request. */
    g_assert_cmpint(tc_region_read(tc, 0, 0x10, &v, 4), ==, 0);
    g_assert_false(tc_readable(tc, 0));
    g_assert_true(tc_finish(tc));
}

/* Point 4, our extension: asked for, the failure comes back. */
static void test_posted_error_asked(void)
{
    TestConn *tc = tc_new(NULL);
    VFIOUserCaps caps;
    uint32_t v;

    vfio_user_caps_init_defaults(&caps);
    caps.posted_errors = true;
    tc_negotiate_caps(tc, &caps);
    g_assert_true(tc->server_caps.posted_errors);
    g_assert_cmpint(tc_wait(tc, posted_bad_write(tc), NULL), ==, EINVAL);
    g_assert_cmpint(tc_region_read(tc, 0, 0x10, &v, 4), ==, 0);
    g_assert_true(tc_finish(tc));
}

/*
 * Point 6: count 0 and start 0 with DATA_NONE disables every vector of
 * the index, whatever the action.  MASK/UNMASK with eventfds is our
 * documented ENOTSUP.
 */
static void test_set_irqs_disable_any_action(void)
{
    const uint32_t actions[] = {VFIO_IRQ_SET_ACTION_TRIGGER,
                                VFIO_IRQ_SET_ACTION_MASK,
                                VFIO_IRQ_SET_ACTION_UNMASK};
    TestConn *tc = tc_start(NULL);
    const uint32_t msi = VFIO_PCI_MSI_IRQ_INDEX;

    for (size_t i = 0; i < G_N_ELEMENTS(actions); i++) {
        int efd[2] = {eventfd(0, EFD_CLOEXEC), eventfd(0, EFD_CLOEXEC)};

        g_assert_cmpint(set_irqs(tc, EFD_TRIGGER, msi, 0, 2, NULL, efd, 2), ==,
                        0);
        g_assert_true(vus_irq_enabled(tc->srv, msi, 1));
        g_assert_cmpint(set_irqs(tc, VFIO_IRQ_SET_DATA_NONE | actions[i], msi,
                                 0, 0, NULL, NULL, 0),
                        ==, 0);
        g_assert_false(vus_irq_enabled(tc->srv, msi, 0));
        g_assert_false(vus_irq_enabled(tc->srv, msi, 1));
        close(efd[0]);
        close(efd[1]);
    }
    /* "count (and start) of 0": another start is not the special case. */
    g_assert_cmpint(set_irqs(tc, NONE_TRIGGER, msi, 1, 0, NULL, NULL, 0), ==,
                    EINVAL);
    {
        int efd = eventfd(0, EFD_CLOEXEC);

        g_assert_cmpint(
            set_irqs(tc, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_MASK,
                     VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, &efd, 1),
            ==, ENOTSUP);
        close(efd);
    }
    g_assert_true(tc_finish(tc));
}

/*
 * Start a device DMA of @len bytes to guest @addr and answer the server's
 * DMA_WRITE ourselves with @reply (@rlen bytes); returns the device status.
 */
static uint32_t dma_write_answered(TestConn *tc, uint64_t addr, uint32_t len,
                                   const void *reply, size_t rlen)
{
    uint32_t cmd = 2, status = 0xffffffff;
    uint8_t go[sizeof(VFIOUserRegionRW) + 4];
    g_autofree uint8_t *body = NULL;
    VFIOUserDMARW rw;
    VFIOUserHdr h, rh;
    size_t nfds = 0;
    uint16_t id;

    g_assert_cmpint(tc_region_write(tc, 0, 0x00, &addr, 8), ==, 0);
    g_assert_cmpint(tc_region_write(tc, 0, 0x08, &len, 4), ==, 0);
    memcpy(go, &(VFIOUserRegionRW){.offset = 0x0c, .count = 4},
           sizeof(VFIOUserRegionRW));
    memcpy(go + sizeof(VFIOUserRegionRW), &cmd, 4);
    id = tc_send(tc, VFIO_USER_REGION_WRITE, 0, go, sizeof(go), NULL, 0);
    g_assert_true(tc_readable(tc, 10000));
    g_assert_true(vfio_user_msg_recv_hdr(tc->sock, &h, NULL, &nfds, 0, 1 << 20,
                                         &error_abort));
    g_assert_cmpuint(h.cmd, ==, VFIO_USER_DMA_WRITE);
    body = g_malloc(h.size - sizeof(h));
    g_assert_true(vfio_user_msg_recv_body(tc->sock, body, h.size - sizeof(h),
                                          &error_abort));
    memcpy(&rw, body, sizeof(rw));
    g_assert_cmpuint(rw.addr, ==, addr);
    g_assert_cmpuint(rw.count, ==, len);
    vfio_user_hdr_init(&rh, h.id, h.cmd, sizeof(rh) + rlen,
                       VFIO_USER_F_TYPE_REPLY);
    g_assert_true(
        vfio_user_msg_send(tc->sock, &rh, reply, rlen, NULL, 0, &error_abort));
    g_assert_cmpint(tc_wait(tc, id, NULL), ==, 0);
    g_assert_cmpint(tc_region_read(tc, 0, 0x10, &status, 4), ==, 0);
    return status;
}

/*
 * Point 7: the server checks the client's DMA_WRITE reply: the echoed
 * address and count, in the 16-byte form or the specification's 12-byte
 * one (4-byte count, as QEMU sends it).
 */
static void test_dma_write_reply_checked(void)
{
    const uint64_t base = 0x40000;
    TestConn *tc = tc_start(NULL);
    struct VFIO_USER_PACKED {
        uint64_t addr;
        uint32_t count;
    } short_ok = {base, 64}, short_bad = {base, 63};
    VFIOUserDMARW ok = {base, 64}, bad_addr = {base + 8, 64};

    g_assert_cmpint(
        tc_dma_map(tc, VFIO_USER_DMA_MAP_F_READ | VFIO_USER_DMA_MAP_F_WRITE, 0,
                   base, 4096, -1),
        ==, 0);
    g_assert_cmpuint(dma_write_answered(tc, base, 64, &ok, sizeof(ok)), ==, 0);
    g_assert_cmpuint(
        dma_write_answered(tc, base, 64, &short_ok, sizeof(short_ok)), ==, 0);
    g_assert_cmpuint(
        dma_write_answered(tc, base, 64, &bad_addr, sizeof(bad_addr)), ==,
        EPROTO);
    g_assert_cmpuint(
        dma_write_answered(tc, base, 64, &short_bad, sizeof(short_bad)), ==,
        EPROTO);
    g_assert_cmpuint(dma_write_answered(tc, base, 64, &ok, 8), ==, EPROTO);
    g_assert_cmpuint(dma_write_answered(tc, base, 64, NULL, 0), ==, EPROTO);
    g_assert_true(tc_finish(tc));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/conformance/server/region-info/qemu-argsz-32",
                    test_region_info_qemu_first_ask);
    g_test_add_func("/conformance/server/xfer-limit/ours",
                    test_xfer_limit_is_ours);
    g_test_add_func("/conformance/server/posted-errors/not-asked",
                    test_posted_error_not_asked);
    g_test_add_func("/conformance/server/posted-errors/asked",
                    test_posted_error_asked);
    g_test_add_func("/conformance/server/set-irqs/disable-any-action",
                    test_set_irqs_disable_any_action);
    g_test_add_func("/conformance/server/dma-write/reply-checked",
                    test_dma_write_reply_checked);
    return g_test_run();
}
