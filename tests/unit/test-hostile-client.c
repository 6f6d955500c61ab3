/*
 * Malicious-client tests: libvfio-user-server against a raw client that
 * sends every kind of garbage: bad headers, unknown commands, requests
 * before VERSION, bad JSON, out-of-range region accesses, broken SET_IRQS
 * and DMA_MAP requests, fd floods, hang-ups in the middle of a message,
 * and hostile answers to the server's own DMA requests.
 *
 * After each error the server must either still answer a valid request or
 * (where the protocol leaves no choice) drop the connection with an error
 * from vus_server_run(); in both cases no fd may be left open.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <glib.h>

#include "test-hostile-client-helpers.h"
#include "vfio-user/caps.h"
#include "vfio-user/error.h"
#include "vfio-user/server.h"
#include "vfio-user/transport.h"
#include "vfu-test.h"

/* ---- headers and commands ---- */

static void send_hdr(Srv *s, uint16_t cmd, uint32_t size, uint32_t flags)
{
    VFIOUserHdr hdr;

    vfio_user_hdr_init(&hdr, s->next_id++, cmd, size, flags);
    cl_send_raw(s, &hdr, sizeof(hdr), NULL, 0);
}

static void test_header_size_below(void)
{
    for (uint32_t size = 0; size < 16; size += 8) {
        Srv *s = srv_ready();

        send_hdr(s, VFIO_USER_DEVICE_GET_INFO, size, 0);
        assert_dropped(s, EPROTO);
        srv_end(s);
    }
}

/* 2 GiB and "one byte more than the limit": refused from the header,
 * nothing allocated for them. */
static void test_header_size_over(void)
{
    static const uint32_t sizes[] = {
        0x80000000u,
        0xffffffffu,
        16 + sizeof(VFIOUserDMARW) + MAX_XFER + 1,
    };

    for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
        Srv *s = srv_ready();

        vut_limit_address_space();
        send_hdr(s, VFIO_USER_REGION_WRITE, sizes[i], 0);
        assert_dropped(s, EPROTO);
        vut_unlimit_address_space();
        srv_end(s);
    }
}

static void test_header_unknown_type(void)
{
    Srv *s = srv_ready();

    send_hdr(s, VFIO_USER_DEVICE_GET_INFO, 16, 0x5);
    assert_dropped(s, EPROTO);
    srv_end(s);
}

static void test_cmd_unknown(void)
{
    static const uint16_t cmds[] = {0, 19, 99, 0xffff};
    static const uint8_t junk[40] = {0xde, 0xad};
    Srv *s = srv_ready();

    for (size_t i = 0; i < G_N_ELEMENTS(cmds); i++) {
        expect_error(s, cmds[i], junk, sizeof(junk), ENOSYS);
    }
    srv_end(s);
}

static void test_cmd_unsupported(void)
{
    static const uint16_t cmds[] = {
        VFIO_USER_DIRTY_PAGES,
        VFIO_USER_DEVICE_FEATURE,
        VFIO_USER_MIG_DATA_READ,
        VFIO_USER_MIG_DATA_WRITE,
    };
    static const uint8_t junk[16] = {16};
    Srv *s = srv_ready();

    for (size_t i = 0; i < G_N_ELEMENTS(cmds); i++) {
        expect_error(s, cmds[i], junk, sizeof(junk), ENOTSUP);
    }
    srv_end(s);
}

/* DMA_READ / DMA_WRITE go server to client only. */
static void test_cmd_wrong_direction(void)
{
    VFIOUserDMARW rw = {.addr = GUEST_IOVA, .count = 8};
    Srv *s = srv_ready();

    expect_error(s, VFIO_USER_DMA_READ, &rw, sizeof(rw), EINVAL);
    expect_error(s, VFIO_USER_DMA_WRITE, &rw, sizeof(rw), EINVAL);
    srv_end(s);
}

/* Replies nobody asked for are dropped, with or without payload/fds. */
static void test_cmd_unsolicited_reply(void)
{
    uint8_t junk[64] = {0};
    VFIOUserHdr hdr;
    Srv *s = srv_ready();
    int fd = eventfd(0, EFD_CLOEXEC);

    vfio_user_hdr_init(&hdr, 0x4444, VFIO_USER_DMA_READ,
                       sizeof(hdr) + sizeof(junk), VFIO_USER_F_TYPE_REPLY);
    memcpy(junk, &hdr, sizeof(hdr));
    cl_send_raw(s, &hdr, sizeof(hdr), &fd, 1);
    cl_send_raw(s, junk, sizeof(junk), NULL, 0);
    close(fd);
    assert_alive(s);
    srv_end(s);
}

/* ---- VERSION ---- */

static void test_version_missing(void)
{
    VFIOUserDeviceInfo q = {.argsz = sizeof(q)};
    Srv *s = srv_start();

    g_assert_cmpint(
        cl_call(s, VFIO_USER_DEVICE_GET_INFO, &q, sizeof(q), NULL, 0), ==,
        EINVAL);
    assert_dropped(s, EPROTO);
    srv_end(s);
}

static void test_version_twice(void)
{
    VFIOUserCaps caps;
    g_autofree void *p = NULL;
    size_t len;
    Srv *s = srv_ready();

    vfio_user_caps_init_ours(&caps);
    p = vfio_user_caps_build_version(&caps, &len);
    expect_error(s, VFIO_USER_VERSION, p, len, EINVAL);
    srv_end(s);
}

/* Each payload is refused with EINVAL and the connection dropped. */
static void test_version_bad(void)
{
    static const struct {
        uint16_t major;
        const char *json;
        size_t extra; /* bytes after the JSON text (0: no NUL at all) */
    } bad[] = {
        {0, "{\"capabilities\":{\"max_msg_fds\":\"8\"}}", 1},
        {0, "{\"capabilities\":{\"max_data_xfer_size\":0}}", 1},
        {0, "{\"capabilities\":{\"pgsizes\":0}}", 1},
        {0, "{\"capabilities\":{\"max_msg_fds\":100000}}", 1},
        {0, "{\"capabilities\":", 1},
        {0, "not json at all", 1},
        {0, "{\"capabilities\":{}}", 0},
        {1, "{\"capabilities\":{}}", 1},
        {0, "", 0}, /* only two bytes: a truncated version */
    };

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        size_t jlen = strlen(bad[i].json);
        g_autofree uint8_t *p = g_malloc0(4 + jlen + 1);
        uint16_t v[2] = {bad[i].major, 1};
        size_t len = 4 + jlen + bad[i].extra;
        Srv *s = srv_start();

        memcpy(p, v, sizeof(v));
        memcpy(p + 4, bad[i].json, jlen);
        if (!*bad[i].json) {
            len = 2;
        }
        g_assert_cmpint(cl_call(s, VFIO_USER_VERSION, p, len, NULL, 0), ==,
                        EINVAL);
        assert_dropped(s, 0);
        srv_end(s);
    }
}

/* ---- region access ---- */

static int region_read(Srv *s, uint32_t index, uint64_t off, uint32_t count,
                       void *out)
{
    VFIOUserRegionRW rw = {.offset = off, .region = index, .count = count};
    static uint8_t reply[sizeof(VFIOUserRegionRW) + MAX_XFER];
    int ret = cl_call(s, VFIO_USER_REGION_READ, &rw, sizeof(rw), reply,
                      sizeof(reply));

    if (!ret && out) {
        memcpy(out, reply + sizeof(rw), count);
    }
    return ret;
}

static void test_region_read_bad_index(void)
{
    static const uint32_t idx[] = {5, 9, 15, 16, 100, 0xffffffffu};
    Srv *s = srv_ready();

    for (size_t i = 0; i < G_N_ELEMENTS(idx); i++) {
        g_assert_cmpint(region_read(s, idx[i], 0, 4, NULL), ==, EINVAL);
    }
    assert_alive(s);
    srv_end(s);
}

static void test_region_read_range(void)
{
    static const struct {
        uint32_t index;
        uint64_t off;
        uint32_t count;
    } bad[] = {
        {VFIO_PCI_BAR0_REGION_INDEX, 0xffffffffffffff00ull, 0x200},
        {VFIO_PCI_BAR0_REGION_INDEX, UINT64_MAX, 1},
        {VFIO_PCI_BAR0_REGION_INDEX, 4096, 1},
        {VFIO_PCI_BAR0_REGION_INDEX, 4095, 2},
        {VFIO_PCI_BAR1_REGION_INDEX, BAR1_SIZE - 4, 8},
        {VFIO_PCI_BAR2_REGION_INDEX, 0, BAR2_SIZE + 1},
        {VFIO_PCI_BAR0_REGION_INDEX, 0, 0},
        {VFIO_PCI_BAR0_REGION_INDEX, 0, MAX_XFER + 1},
        {VFIO_PCI_BAR0_REGION_INDEX, 0, 0xffffffffu},
    };
    uint8_t v[BAR2_SIZE];
    Srv *s = srv_ready();

    vut_limit_address_space();
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_assert_cmpint(
            region_read(s, bad[i].index, bad[i].off, bad[i].count, NULL), ==,
            EINVAL);
    }
    vut_unlimit_address_space();
    /* The edges themselves are fine. */
    g_assert_cmpint(region_read(s, VFIO_PCI_BAR2_REGION_INDEX, 0, BAR2_SIZE, v),
                    ==, 0);
    g_assert_cmpmem(v, BAR2_SIZE, s->bar2, BAR2_SIZE);
    srv_end(s);
}

/* REGION_READ carries no data: a payload of another size is refused. */
static void test_region_read_payload(void)
{
    uint8_t p[64] = {0};
    VFIOUserRegionRW rw = {.region = 0, .count = 4};
    Srv *s = srv_ready();

    memcpy(p, &rw, sizeof(rw));
    expect_error(s, VFIO_USER_REGION_READ, p, 8, EINVAL);
    expect_error(s, VFIO_USER_REGION_READ, p, sizeof(rw) + 4, EINVAL);
    expect_error(s, VFIO_USER_REGION_READ, p, 0, EINVAL);
    srv_end(s);
}

static void test_region_write_mismatch(void)
{
    static const struct {
        uint32_t count;
        size_t data;
    } bad[] = {
        {8, 4}, {4, 8}, {0xffffffffu, 4}, {0, 0}, {0, 8},
    };
    uint8_t before[4096];
    Srv *s = srv_ready();

    memcpy(before, s->bar0, sizeof(before));
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        uint8_t p[sizeof(VFIOUserRegionRW) + 16];
        VFIOUserRegionRW rw = {
            .offset = 0x20, .region = 0, .count = bad[i].count};

        memset(p, 0xee, sizeof(p));
        memcpy(p, &rw, sizeof(rw));
        expect_error(s, VFIO_USER_REGION_WRITE, p, sizeof(rw) + bad[i].data,
                     EINVAL);
    }
    /* Short of even the fixed part. */
    expect_error(s, VFIO_USER_REGION_WRITE, before, 12, EINVAL);
    g_assert_cmpmem(s->bar0, sizeof(before), before, sizeof(before));
    srv_end(s);
}

static void test_region_write_denied(void)
{
    uint8_t p[sizeof(VFIOUserRegionRW) + 4] = {0};
    VFIOUserRegionRW rw = {.region = VFIO_PCI_BAR2_REGION_INDEX, .count = 4};
    uint8_t before[BAR2_SIZE];
    Srv *s = srv_ready();

    memcpy(before, s->bar2, sizeof(before));
    memcpy(p, &rw, sizeof(rw));
    expect_error(s, VFIO_USER_REGION_WRITE, p, sizeof(p), EPERM);
    rw.region = 6; /* never declared */
    memcpy(p, &rw, sizeof(rw));
    expect_error(s, VFIO_USER_REGION_WRITE, p, sizeof(p), EINVAL);
    g_assert_cmpmem(s->bar2, sizeof(before), before, sizeof(before));
    srv_end(s);
}

static void test_region_write_multi(void)
{
    uint8_t p[8 + 2 * sizeof(VFIOUserWriteMultiEntry)] = {0};
    VFIOUserWriteMultiEntry e = {.offset = 0x40, .region = 0, .count = 4};
    uint64_t n;
    Srv *s = srv_ready();

    n = 0;
    memcpy(p, &n, 8);
    expect_error(s, VFIO_USER_REGION_WRITE_MULTI, p, 8, EINVAL);
    n = UINT64_MAX;
    memcpy(p, &n, 8);
    expect_error(s, VFIO_USER_REGION_WRITE_MULTI, p, sizeof(p), EINVAL);
    n = 2; /* says two, carries one */
    memcpy(p, &n, 8);
    memcpy(p + 8, &e, sizeof(e));
    expect_error(s, VFIO_USER_REGION_WRITE_MULTI, p, 8 + sizeof(e), EINVAL);
    e.count = 9; /* more than the 8 data bytes of an entry */
    memcpy(p + 8, &e, sizeof(e));
    memcpy(p + 8 + sizeof(e), &e, sizeof(e));
    expect_error(s, VFIO_USER_REGION_WRITE_MULTI, p, sizeof(p), EINVAL);
    e.count = 4;
    memset(e.data, 0x77, sizeof(e.data));
    memcpy(p + 8, &e, sizeof(e));
    e.offset = 4094; /* the second runs past the end of BAR0 */
    memcpy(p + 8 + sizeof(e), &e, sizeof(e));
    expect_error(s, VFIO_USER_REGION_WRITE_MULTI, p, sizeof(p), EINVAL);
    /* All entries are checked before any is written. */
    g_assert_cmpuint(s->bar0[0x40], ==, 0);
    srv_end(s);
}

/* ---- interrupts ---- */

static void make_eventfds(int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fds[i] = eventfd(0, EFD_CLOEXEC);
        g_assert_cmpint(fds[i], >=, 0);
    }
}

static int set_irqs(Srv *s, uint32_t argsz, uint32_t flags, uint32_t index,
                    uint32_t start, uint32_t count, const void *data,
                    size_t data_len, const int *fds, size_t nfds)
{
    uint8_t p[sizeof(VFIOUserIrqSet) + 64] = {0};
    VFIOUserIrqSet q = {.argsz = argsz,
                        .flags = flags,
                        .index = index,
                        .start = start,
                        .count = count};

    g_assert_cmpuint(data_len, <=, 64);
    memcpy(p, &q, sizeof(q));
    if (data_len) {
        memcpy(p + sizeof(q), data, data_len);
    }
    return cl_call_fds(s, VFIO_USER_DEVICE_SET_IRQS, p, sizeof(q) + data_len,
                       fds, nfds, NULL, 0, NULL);
}

#define EVT (VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER)
#define MSIX VFIO_PCI_MSIX_IRQ_INDEX

/* A wrong number of eventfds: refused, and every fd sent is closed. */
static void test_irq_fd_count(void)
{
    int fds[8];
    Srv *s = srv_ready();

    make_eventfds(fds, G_N_ELEMENTS(fds));
    g_assert_cmpint(set_irqs(s, 20, EVT, MSIX, 0, 4, NULL, 0, fds, 2), ==,
                    EINVAL);
    g_assert_cmpint(set_irqs(s, 20, EVT, MSIX, 0, 1, NULL, 0, fds, 3), ==,
                    EINVAL);
    /* fds with a data type that takes none */
    g_assert_cmpint(
        set_irqs(s, 20, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
                 MSIX, 0, 1, NULL, 0, fds, 1),
        ==, EINVAL);
    /* the right count (max_msg_fds of them) is taken */
    g_assert_cmpint(set_irqs(s, 20, EVT, MSIX, 0, 8, NULL, 0, fds, 8), ==, 0);
    g_assert_true(vus_irq_enabled(s->srv, MSIX, 7));
    /* count 0 with fds */
    g_assert_cmpint(
        set_irqs(s, 20, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
                 MSIX, 0, 0, NULL, 0, fds, 1),
        ==, EINVAL);
    vfio_user_close_fds(fds, G_N_ELEMENTS(fds));
    assert_alive(s);
    srv_end(s);
}

static void test_irq_range(void)
{
    static const uint32_t bad[][2] = {
        {0, 0xffffffffu},      {0xffffffffu, 2},  {MSIX_VECTORS, 1},
        {MSIX_VECTORS - 1, 2}, {1, MSIX_VECTORS},
    };
    Srv *s = srv_ready();

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_assert_cmpint(
            set_irqs(s, 20,
                     VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, MSIX,
                     bad[i][0], bad[i][1], NULL, 0, NULL, 0),
            ==, EINVAL);
    }
    assert_alive(s);
    srv_end(s);
}

static void test_irq_bad_index(void)
{
    VFIOUserIrqInfo q = {.argsz = sizeof(q), .index = 99};
    Srv *s = srv_ready();
    int fd = eventfd(0, EFD_CLOEXEC);

    g_assert_cmpint(set_irqs(s, 20, EVT, 99, 0, 1, NULL, 0, &fd, 1), ==,
                    EINVAL);
    g_assert_cmpint(set_irqs(s, 20, EVT, 0xffffffffu, 0, 1, NULL, 0, &fd, 1),
                    ==, EINVAL);
    expect_error(s, VFIO_USER_DEVICE_GET_IRQ_INFO, &q, sizeof(q), EINVAL);
    q.index = 1;
    q.argsz = 4;
    expect_error(s, VFIO_USER_DEVICE_GET_IRQ_INFO, &q, sizeof(q), EINVAL);
    expect_error(s, VFIO_USER_DEVICE_GET_IRQ_INFO, &q, 8, EINVAL);
    close(fd);
    srv_end(s);
}

static void test_irq_bad_flags(void)
{
    static const uint32_t flags[] = {
        0,
        VFIO_IRQ_SET_DATA_NONE,
        VFIO_IRQ_SET_ACTION_TRIGGER,
        VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_DATA_BOOL |
            VFIO_IRQ_SET_ACTION_TRIGGER,
        VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK |
            VFIO_IRQ_SET_ACTION_UNMASK,
        VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER | (1u << 31),
    };
    Srv *s = srv_ready();

    for (size_t i = 0; i < G_N_ELEMENTS(flags); i++) {
        g_assert_cmpint(set_irqs(s, 20, flags[i], MSIX, 0, 1, NULL, 0, NULL, 0),
                        ==, EINVAL);
    }
    assert_alive(s);
    srv_end(s);
}

static void test_irq_argsz(void)
{
    static const uint8_t bools[4] = {1, 1, 1, 1};
    const uint32_t bool_trig =
        VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER;
    Srv *s = srv_ready();

    /* argsz beyond the message */
    g_assert_cmpint(set_irqs(s, 1000, bool_trig, MSIX, 0, 4, bools, 4, NULL, 0),
                    ==, EINVAL);
    /* argsz below the fixed part */
    g_assert_cmpint(set_irqs(s, 8, bool_trig, MSIX, 0, 4, bools, 4, NULL, 0),
                    ==, EINVAL);
    /* bools for 4 vectors, argsz and payload hold only 2 */
    g_assert_cmpint(set_irqs(s, 22, bool_trig, MSIX, 0, 4, bools, 2, NULL, 0),
                    ==, EINVAL);
    /* payload shorter than the fixed part */
    expect_error(s, VFIO_USER_DEVICE_SET_IRQS, bools, 4, EINVAL);
    /* the well-formed request works */
    g_assert_cmpint(set_irqs(s, 24, bool_trig, MSIX, 0, 4, bools, 4, NULL, 0),
                    ==, 0);
    srv_end(s);
}

typedef struct TriggerJob {
    VusServer *srv;
    VutEvent done;
} TriggerJob;

static gpointer trigger_thread(gpointer opaque)
{
    TriggerJob *j = opaque;

    vus_irq_trigger(j->srv, MSIX, 0);
    vut_event_set(&j->done);
    return NULL;
}

/*
 * A client-made eventfd whose counter is already at its maximum (and that
 * is not non-blocking): signalling it would block the device (and the
 * server's lock) until the client reads it.  vus_irq_trigger() must return
 * anyway (count the interrupt as undelivered, or drop it).
 */
static void test_irq_eventfd_full(void)
{
    Srv *s = srv_ready();
    uint64_t max = 0xfffffffffffffffeull, v;
    TriggerJob j = {.srv = s->srv};
    GThread *t;
    int fd = eventfd(0, EFD_CLOEXEC);

    g_assert_cmpint(write(fd, &max, sizeof(max)), ==, sizeof(max));
    g_assert_cmpint(set_irqs(s, 20, EVT, MSIX, 0, 1, NULL, 0, &fd, 1), ==, 0);
    vut_event_init(&j.done);
    t = g_thread_new("trigger", trigger_thread, &j);
    if (!vut_event_wait(&j.done, 2000)) {
        g_test_fail_printf("vus_irq_trigger() blocked on a full eventfd");
    }
    /* Either way, drain the counter so that a blocked write finishes. */
    g_assert_cmpint(read(fd, &v, sizeof(v)), ==, sizeof(v));
    g_thread_join(t);
    vut_event_clear(&j.done);
    close(fd);
    assert_alive(s);
    srv_end(s);
}

/* ---- DMA_MAP / DMA_UNMAP ---- */

static int dma_map(Srv *s, uint32_t argsz, uint32_t flags, uint64_t offset,
                   uint64_t addr, uint64_t size, const int *fds, size_t nfds)
{
    VFIOUserDMAMap m = {.argsz = argsz,
                        .flags = flags,
                        .offset = offset,
                        .addr = addr,
                        .size = size};

    return cl_call_fds(s, VFIO_USER_DMA_MAP, &m, sizeof(m), fds, nfds, NULL, 0,
                       NULL);
}

static int dma_unmap(Srv *s, uint32_t argsz, uint32_t flags, uint64_t addr,
                     uint64_t size)
{
    VFIOUserDMAUnmap u = {
        .argsz = argsz, .flags = flags, .addr = addr, .size = size};
    VFIOUserDMAUnmap echo;

    return cl_call(s, VFIO_USER_DMA_UNMAP, &u, sizeof(u), &echo, sizeof(echo));
}

static int guest_memfd(void)
{
    int fd = memfd_create("hostile-guest", MFD_CLOEXEC);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, 0x10000), ==, 0);
    return fd;
}

/* What the server must answer for DMA_MAP @flags with or without an fd. */
static int map_verdict(uint32_t flags, bool fd)
{
    uint32_t modes = flags & VFIO_USER_DMA_MAP_F_MODES;

    if (flags & ~VFIO_USER_DMA_MAP_F_ALL) {
        return EINVAL;
    }
    if (modes == VFIO_USER_DMA_MAP_F_MODES || (modes && !fd)) {
        return EINVAL;
    }
    return 0;
}

/* Every combination of the low 6 flag bits, with and without an fd. */
static void test_dma_map_flags(void)
{
    Srv *s = srv_ready();
    int fd = guest_memfd();
    unsigned ok = 0;

    for (uint32_t flags = 0; flags < 64; flags++) {
        for (int with_fd = 0; with_fd < 2; with_fd++) {
            int want = map_verdict(flags, with_fd);
            int got =
                dma_map(s, 32, flags, 0, GUEST_IOVA, GUEST_SIZE, &fd, with_fd);

            if (got != want) {
                g_test_fail_printf(
                    "DMA_MAP flags 0x%x %s fd: errno %d, expected %d", flags,
                    with_fd ? "with" : "without", got, want);
            }
            if (got == 0) {
                ok++;
                g_assert_cmpint(dma_unmap(s, 24, 0, GUEST_IOVA, GUEST_SIZE), ==,
                                0);
            }
        }
    }
    g_assert_cmpuint(ok, >, 0);
    /* Unknown high bits too. */
    g_assert_cmpint(
        dma_map(s, 32, 3 | (1u << 31), 0, GUEST_IOVA, GUEST_SIZE, NULL, 0), ==,
        EINVAL);
    close(fd);
    assert_alive(s);
    srv_end(s);
}

static void test_dma_map_ranges(void)
{
    Srv *s = srv_ready();
    int fd = guest_memfd();

    /* size 0, address + size wrapping, fd offset + size wrapping */
    g_assert_cmpint(dma_map(s, 32, 3, 0, GUEST_IOVA, 0, NULL, 0), ==, EINVAL);
    g_assert_cmpint(dma_map(s, 32, 3, 0, UINT64_MAX - 0xfff, 0x2000, NULL, 0),
                    ==, EINVAL);
    g_assert_cmpint(dma_map(s, 32, 3, 0, 0, UINT64_MAX, NULL, 0), ==, 0);
    g_assert_cmpint(dma_unmap(s, 24, 0, 0, UINT64_MAX), ==, 0);
    g_assert_cmpint(dma_map(s, 32, 3 | VFIO_USER_DMA_MAP_F_MODE_FILE_IO,
                            UINT64_MAX - 0xfff, GUEST_IOVA, 0x2000, &fd, 1),
                    ==, EINVAL);
    /* a map larger than the file (touching it would be SIGBUS) */
    g_assert_cmpint(dma_map(s, 32, 3 | VFIO_USER_DMA_MAP_F_MODE_MMAP, 0,
                            GUEST_IOVA, 0x20000, &fd, 1),
                    !=, 0);
    /* an mmap beyond what the file can give fails, nothing kept */
    g_assert_cmpint(dma_map(s, 32, 3 | VFIO_USER_DMA_MAP_F_MODE_MMAP,
                            1ull << 62, GUEST_IOVA, 0x2000, &fd, 1),
                    !=, 0);
    close(fd);
    assert_alive(s);
    srv_end(s);
}

static void test_dma_map_overlap(void)
{
    Srv *s = srv_ready();

    g_assert_cmpint(dma_map(s, 32, 3, 0, GUEST_IOVA, GUEST_SIZE, NULL, 0), ==,
                    0);
    g_assert_cmpint(dma_map(s, 32, 3, 0, GUEST_IOVA, GUEST_SIZE, NULL, 0), ==,
                    EEXIST);
    g_assert_cmpint(dma_map(s, 32, 1, 0, GUEST_IOVA - 0x1000, 0x2000, NULL, 0),
                    ==, EEXIST);
    g_assert_cmpint(dma_map(s, 32, 1, 0, GUEST_IOVA + 0xfff, 1, NULL, 0), ==,
                    EEXIST);
    g_assert_cmpint(dma_map(s, 32, 1, 0, 0, UINT64_MAX, NULL, 0), ==, EEXIST);
    g_assert_cmpint(
        dma_map(s, 32, 1, 0, GUEST_IOVA + GUEST_SIZE, 0x1000, NULL, 0), ==, 0);
    srv_end(s);
}

static void test_dma_map_fds(void)
{
    int fds[9];
    Srv *s = srv_ready();

    for (size_t i = 0; i < G_N_ELEMENTS(fds); i++) {
        fds[i] = guest_memfd();
    }
    g_assert_cmpint(dma_map(s, 32, 3, 0, GUEST_IOVA, GUEST_SIZE, fds, 2), ==,
                    EINVAL);
    g_assert_cmpint(dma_map(s, 32, 3, 0, GUEST_IOVA, GUEST_SIZE, fds, 9), ==,
                    EINVAL);
    /* an fd that mmap() refuses, with the mmap bit */
    {
        int pipefd[2];

        g_assert_cmpint(pipe(pipefd), ==, 0);
        g_assert_cmpint(dma_map(s, 32, 3 | VFIO_USER_DMA_MAP_F_MODE_MMAP, 0,
                                GUEST_IOVA, GUEST_SIZE, pipefd, 1),
                        !=, 0);
        close(pipefd[0]);
        close(pipefd[1]);
    }
    vfio_user_close_fds(fds, G_N_ELEMENTS(fds));
    assert_alive(s);
    srv_end(s);
}

static void test_dma_map_argsz(void)
{
    VFIOUserDMAMap m = {
        .argsz = 32, .flags = 3, .addr = GUEST_IOVA, .size = GUEST_SIZE};
    Srv *s = srv_ready();

    g_assert_cmpint(dma_map(s, 16, 3, 0, GUEST_IOVA, GUEST_SIZE, NULL, 0), ==,
                    EINVAL);
    g_assert_cmpint(dma_map(s, 0, 3, 0, GUEST_IOVA, GUEST_SIZE, NULL, 0), ==,
                    EINVAL);
    expect_error(s, VFIO_USER_DMA_MAP, &m, 16, EINVAL);
    expect_error(s, VFIO_USER_DMA_MAP, &m, 0, EINVAL);
    srv_end(s);
}

static void test_dma_unmap_bad(void)
{
    Srv *s = srv_ready();

    g_assert_cmpint(dma_unmap(s, 24, 0, GUEST_IOVA, GUEST_SIZE), ==, ENOENT);
    g_assert_cmpint(dma_map(s, 32, 3, 0, GUEST_IOVA, 0x4000, NULL, 0), ==, 0);
    g_assert_cmpint(dma_unmap(s, 24, 0, GUEST_IOVA, 0x1000), ==, ENOENT);
    g_assert_cmpint(dma_unmap(s, 24, 0, GUEST_IOVA + 0x1000, 0x3000), ==,
                    ENOENT);
    g_assert_cmpint(dma_unmap(s, 24, 0, 0, UINT64_MAX), ==, ENOENT);
    g_assert_cmpint(dma_unmap(s, 8, 0, GUEST_IOVA, 0x4000), ==, EINVAL);
    g_assert_cmpint(dma_unmap(s, 24, 1u << 7, GUEST_IOVA, 0x4000), ==, EINVAL);
    g_assert_cmpint(dma_unmap(s, 24, VFIO_USER_DMA_UNMAP_F_ALL, GUEST_IOVA, 0),
                    ==, EINVAL);
    g_assert_cmpint(dma_unmap(s, 24, VFIO_USER_DMA_UNMAP_F_GET_DIRTY_BITMAP,
                              GUEST_IOVA, 0x4000),
                    ==, ENOTSUP);
    expect_error(s, VFIO_USER_DMA_UNMAP, "short", 5, EINVAL);
    g_assert_cmpint(dma_unmap(s, 24, 0, GUEST_IOVA, 0x4000), ==, 0);
    srv_end(s);
}

/* ---- region info ---- */

static void test_region_info_argsz(void)
{
    VFIOUserRegionInfo q = {.argsz = 8, .index = VFIO_PCI_BAR1_REGION_INDEX};
    VFIOUserRegionInfo r;
    size_t len;
    Srv *s = srv_ready();

    expect_error(s, VFIO_USER_DEVICE_GET_REGION_INFO, &q, sizeof(q), EINVAL);
    expect_error(s, VFIO_USER_DEVICE_GET_REGION_INFO, &q, 8, EINVAL);
    /* Room for the fixed part only: the size needed, no caps, no fd. */
    q.argsz = sizeof(q);
    g_assert_cmpint(cl_call_fds(s, VFIO_USER_DEVICE_GET_REGION_INFO, &q,
                                sizeof(q), NULL, 0, &r, sizeof(r), &len),
                    ==, 0);
    g_assert_cmpuint(len, ==, sizeof(r));
    g_assert_cmpuint(r.argsz, >, sizeof(r));
    g_assert_cmpuint(r.cap_offset, ==, 0);
    g_assert_cmpuint(s->last_nfds, ==, 0);
    q.index = 0xffffffffu;
    expect_error(s, VFIO_USER_DEVICE_GET_REGION_INFO, &q, sizeof(q), EINVAL);
    q.index = 200;
    expect_error(s, VFIO_USER_DEVICE_GET_REGION_INFO, &q, sizeof(q), EINVAL);
    srv_end(s);
}

/* ---- fd floods ---- */

/* More fds than max_msg_fds on one message: refused, all closed; more
 * than the transport's control buffer: the connection is dropped. */
static void test_fds_flood_one(void)
{
    VFIOUserDeviceInfo q = {.argsz = sizeof(q)};
    int fds[200];
    Srv *s = srv_ready();

    make_eventfds(fds, G_N_ELEMENTS(fds));
    g_assert_cmpint(cl_call_fds(s, VFIO_USER_DEVICE_GET_INFO, &q, sizeof(q),
                                fds, 9, NULL, 0, NULL),
                    ==, EINVAL);
    g_assert_cmpint(cl_call_fds(s, VFIO_USER_DEVICE_GET_INFO, &q, sizeof(q),
                                fds, 64, NULL, 0, NULL),
                    ==, EINVAL);
    assert_alive(s);
    cl_send(s, VFIO_USER_DEVICE_GET_INFO, 0, &q, sizeof(q), fds, 64);
    {
        /* Past VFIO_USER_MAX_FDS the transport refuses to send; go raw. */
        union {
            char buf[CMSG_SPACE(sizeof(int) * 200)];
            struct cmsghdr align;
        } ctl;
        VFIOUserHdr hdr;
        struct iovec iov = {.iov_base = &hdr, .iov_len = sizeof(hdr)};
        struct msghdr msg = {.msg_iov = &iov,
                             .msg_iovlen = 1,
                             .msg_control = ctl.buf,
                             .msg_controllen = sizeof(ctl.buf)};
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

        vfio_user_hdr_init(&hdr, 0x999, VFIO_USER_DEVICE_GET_INFO, sizeof(hdr),
                           VFIO_USER_F_TYPE_REQUEST);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * 200);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * 200);
        g_assert_cmpint(sendmsg(s->sock, &msg, 0), ==, sizeof(hdr));
    }
    vfio_user_close_fds(fds, G_N_ELEMENTS(fds));
    assert_dropped(s, EPROTO);
    srv_end(s);
}

/* A thousand messages, each with an fd it should not carry. */
static void test_fds_flood_many(void)
{
    VFIOUserDeviceInfo q = {.argsz = sizeof(q)};
    Srv *s = srv_ready();
    int fd = eventfd(0, EFD_CLOEXEC);

    for (int i = 0; i < 1000; i++) {
        uint16_t cmd = i % 2 ? VFIO_USER_DEVICE_GET_INFO : 99;

        g_assert_cmpint(
            cl_call_fds(s, cmd, &q, sizeof(q), &fd, 1, NULL, 0, NULL), ==,
            i % 2 ? EINVAL : ENOSYS);
    }
    close(fd);
    assert_alive(s);
    srv_end(s);
}

/* ---- hang-ups and stalls ---- */

static void test_disconnect_mid_header(void)
{
    VFIOUserHdr hdr;
    Srv *s = srv_ready();

    vfio_user_hdr_init(&hdr, 7, VFIO_USER_DEVICE_GET_INFO, 32,
                       VFIO_USER_F_TYPE_REQUEST);
    cl_send_raw(s, &hdr, 7, NULL, 0);
    shutdown(s->sock, SHUT_WR);
    assert_dropped(s, EPROTO);
    srv_end(s);
}

static void test_disconnect_mid_body(void)
{
    uint8_t p[16 + 10] = {0};
    VFIOUserHdr hdr;
    Srv *s = srv_ready();
    int fd = eventfd(0, EFD_CLOEXEC);

    vfio_user_hdr_init(&hdr, 7, VFIO_USER_REGION_WRITE, 16 + 100,
                       VFIO_USER_F_TYPE_REQUEST);
    memcpy(p, &hdr, sizeof(hdr));
    cl_send_raw(s, p, sizeof(p), &fd, 1);
    close(fd);
    shutdown(s->sock, SHUT_WR);
    assert_dropped(s, EPROTO);
    srv_end(s);
}

static void test_disconnect_clean(void)
{
    Srv *s = srv_ready();

    assert_alive(s);
    shutdown(s->sock, SHUT_WR);
    g_assert_true(srv_wait_finished(s, RECV_MS));
    g_assert_true(s->run_ok);
    srv_end(s);
}

/*
 * Half a message, then silence: vus_server_stop() must still end
 * vus_server_run() (a device must be able to shut down with a client
 * that stopped talking in the middle of a message).
 */
static void test_stall_then_stop(void)
{
    uint8_t p[16 + 10] = {0};
    VFIOUserHdr hdr;
    Srv *s = srv_ready();

    vfio_user_hdr_init(&hdr, 7, VFIO_USER_REGION_WRITE, 16 + 100,
                       VFIO_USER_F_TYPE_REQUEST);
    memcpy(p, &hdr, sizeof(hdr));
    cl_send_raw(s, p, sizeof(p), NULL, 0);
    vus_server_stop(s->srv);
    if (!srv_wait_finished(s, 1000)) {
        g_test_fail_printf(
            "vus_server_run() did not return within 1 s of vus_server_stop() while a client stalled in the middle of a message");
    }
    srv_end(s); /* the hang-up ends the stall in any case */
}

/*
 * The client never reads its replies: 200 reads of 8 KiB fill the socket.
 * The server must give up on the connection (its send timeout) instead
 * of blocking, with its lock held, forever.
 */
static void test_stall_stops_reading(void)
{
    VFIOUserRegionRW rw = {.region = VFIO_PCI_BAR1_REGION_INDEX,
                           .count = BAR1_SIZE};
    Srv *s = srv_ready();

    for (int i = 0; i < 200; i++) {
        cl_send(s, VFIO_USER_REGION_READ, 0, &rw, sizeof(rw), NULL, 0);
    }
    if (!srv_wait_finished(s, 10 * DMA_TIMEOUT_MS + 2000)) {
        g_test_fail_printf(
            "the server still blocks on a client that does not read");
        shutdown(s->sock, SHUT_RDWR);
    }
    g_assert_true(srv_wait_finished(s, RECV_MS));
    g_assert_false(s->run_ok);
    srv_end(s);
}

/* ---- hostile answers to the server's DMA requests ---- */

/* Map guest memory for messages, start a device DMA through BAR0 and
 * return the device's status (errno of vus_dma_read()). */
static uint32_t device_dma(Srv *s, uint64_t addr, uint32_t len)
{
    uint8_t p[sizeof(VFIOUserRegionRW) + 8];
    VFIOUserRegionRW rw = {.region = 0, .count = 8, .offset = R_DMA_ADDR};
    uint8_t reply[64];
    uint32_t status = UINT32_MAX;

    memcpy(p, &rw, sizeof(rw));
    memcpy(p + sizeof(rw), &addr, 8);
    g_assert_cmpint(
        cl_call(s, VFIO_USER_REGION_WRITE, p, sizeof(p), reply, sizeof(reply)),
        ==, 0);
    rw.offset = R_DMA_LEN;
    rw.count = 4;
    memcpy(p, &rw, sizeof(rw));
    memcpy(p + sizeof(rw), &len, 4);
    g_assert_cmpint(cl_call(s, VFIO_USER_REGION_WRITE, p, sizeof(rw) + 4, reply,
                            sizeof(reply)),
                    ==, 0);
    rw.offset = R_DMA_GO;
    memcpy(p, &rw, sizeof(rw));
    g_assert_cmpint(cl_call(s, VFIO_USER_REGION_WRITE, p, sizeof(rw) + 4, reply,
                            sizeof(reply)),
                    ==, 0);
    g_assert_cmpint(region_read(s, 0, R_DMA_STATUS, 4, &status), ==, 0);
    return status;
}

static Srv *srv_with_guest(DmaAnswer answer)
{
    Srv *s = srv_ready();

    g_assert_cmpint(dma_map(s, 32, 3, 0, GUEST_IOVA, GUEST_SIZE, NULL, 0), ==,
                    0);
    s->answer = answer;
    return s;
}

static void test_dma_reply_ok(void)
{
    Srv *s = srv_with_guest(DMA_OK);

    g_assert_cmpuint(device_dma(s, GUEST_IOVA, 64), ==, 0);
    g_assert_cmpuint(s->dma_buf[63], ==, 0x3c);
    g_assert_cmpuint(s->dma_requests, ==, 1);
    /* Outside the map: refused by the server without asking us. */
    g_assert_cmpuint(device_dma(s, GUEST_IOVA + GUEST_SIZE, 64), ==, EFAULT);
    g_assert_cmpuint(s->dma_requests, ==, 1);
    srv_end(s);
}

static void test_dma_reply_error(void)
{
    Srv *s = srv_with_guest(DMA_ERROR);

    g_assert_cmpuint(device_dma(s, GUEST_IOVA, 64), ==, EFAULT);
    assert_alive(s);
    srv_end(s);
}

static void test_dma_reply_short(void)
{
    Srv *s = srv_with_guest(DMA_SHORT);

    g_assert_cmpuint(device_dma(s, GUEST_IOVA, 64), ==, EPROTO);
    assert_alive(s);
    s->answer = DMA_OK;
    g_assert_cmpuint(device_dma(s, GUEST_IOVA, 64), ==, 0);
    srv_end(s);
}

static void test_dma_reply_wrong_id(void)
{
    Srv *s = srv_with_guest(DMA_WRONG_ID);

    g_assert_cmpuint(device_dma(s, GUEST_IOVA, 64), ==, 0);
    assert_alive(s);
    srv_end(s);
}

static void test_dma_reply_silent(void)
{
    gint64 t0 = g_get_monotonic_time();
    Srv *s = srv_with_guest(DMA_SILENT);

    g_assert_cmpuint(device_dma(s, GUEST_IOVA, 64), ==, ETIMEDOUT);
    g_assert_cmpint((g_get_monotonic_time() - t0) / 1000, <,
                    DMA_TIMEOUT_MS + 2000);
    assert_alive(s);
    srv_end(s);
}

/*
 * Requests arriving while the server waits for a DMA reply (and no reply):
 * they are queued, the DMA times out, and the requests are then answered
 * in order; a full queue would not be a reason to drop the client.
 */
static void test_dma_reply_flood(void)
{
    Srv *s = srv_with_guest(DMA_FLOOD);

    g_assert_cmpuint(device_dma(s, GUEST_IOVA, 64), ==, ETIMEDOUT);
    assert_alive(s);
    srv_end(s);
}

/*
 * A correct client posts writes while a DMA of the device is in progress:
 * all of them are handled, in order, after the DMA, and the DMA succeeds.
 * (An old server queued 256 messages and dropped the client beyond.)
 */
static void test_dma_wait_posted_writes(void)
{
    Srv *s;
    const uint32_t *bar1;

    /* Sending the writes must not count against the DMA's timeout. */
    srv_dma_timeout_ms = 30000;
    s = srv_with_guest(DMA_POSTED);
    srv_dma_timeout_ms = DMA_TIMEOUT_MS;

    g_assert_cmpuint(device_dma(s, GUEST_IOVA, 64), ==, 0);
    g_assert_cmpuint(s->dma_buf[63], ==, 0x3c);
    assert_alive(s); /* answered after every queued write was handled */
    bar1 = s->bar1;
    G_STATIC_ASSERT(FLOOD_POSTED <= BAR1_SIZE / 4);
    g_assert_cmphex(bar1[0], ==, 0xfeed);
    for (uint32_t i = 1; i < FLOOD_POSTED; i++) {
        g_assert_cmpuint(bar1[i], ==, i + 1);
    }
    srv_end(s);
}

/*
 * More than the server queues during one DMA wait (16 MiB): that DMA fails
 * with ENOBUFS instead of the connection, the server stops reading until
 * it returns, then handles every write in order.
 */
static void test_dma_wait_queue_full(void)
{
    Srv *s;
    const uint8_t *bar1;

    srv_dma_timeout_ms = 30000;
    s = srv_with_guest(DMA_POSTED_BIG);
    srv_dma_timeout_ms = DMA_TIMEOUT_MS;

    g_assert_cmpuint(device_dma(s, GUEST_IOVA, 64), ==, ENOBUFS);
    assert_alive(s);
    bar1 = s->bar1;
    g_assert_cmphex(bar1[0], ==, 0xed); /* 0xfeed, little-endian, last */
    g_assert_cmphex(bar1[4], ==, (uint8_t)(FLOOD_BIG_MSGS - 1));
    s->answer = DMA_OK;
    g_assert_cmpuint(device_dma(s, GUEST_IOVA, 64), ==, 0);
    srv_end(s);
}

/* ---- other fixed-size requests ---- */

static void test_misc_small_payloads(void)
{
    VFIOUserDeviceInfo q = {.argsz = 4};
    Srv *s = srv_ready();

    expect_error(s, VFIO_USER_DEVICE_GET_INFO, &q, sizeof(q), EINVAL);
    expect_error(s, VFIO_USER_DEVICE_GET_INFO, &q, 4, EINVAL);
    expect_error(s, VFIO_USER_DEVICE_GET_INFO, NULL, 0, EINVAL);
    expect_error(s, VFIO_USER_DEVICE_RESET, &q, sizeof(q), EINVAL);
    expect_error(s, VFIO_USER_DEVICE_GET_REGION_IO_FDS, &q, 8, EINVAL);
    g_assert_cmpint(cl_call(s, VFIO_USER_DEVICE_RESET, NULL, 0, NULL, 0), ==,
                    0);
    srv_end(s);
}

int main(int argc, char **argv)
{
    /* Go on past a failed case, so that one run reports every failure. */
    vut_init_keep_going(&argc, &argv);
    g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);

    g_test_add_func("/hostile-client/header/size-below",
                    test_header_size_below);
    g_test_add_func("/hostile-client/header/size-over", test_header_size_over);
    g_test_add_func("/hostile-client/header/unknown-type",
                    test_header_unknown_type);
    g_test_add_func("/hostile-client/cmd/unknown", test_cmd_unknown);
    g_test_add_func("/hostile-client/cmd/unsupported", test_cmd_unsupported);
    g_test_add_func("/hostile-client/cmd/wrong-direction",
                    test_cmd_wrong_direction);
    g_test_add_func("/hostile-client/cmd/unsolicited-reply",
                    test_cmd_unsolicited_reply);
    g_test_add_func("/hostile-client/version/missing", test_version_missing);
    g_test_add_func("/hostile-client/version/twice", test_version_twice);
    g_test_add_func("/hostile-client/version/bad", test_version_bad);
    g_test_add_func("/hostile-client/region/read-bad-index",
                    test_region_read_bad_index);
    g_test_add_func("/hostile-client/region/read-range",
                    test_region_read_range);
    g_test_add_func("/hostile-client/region/read-payload",
                    test_region_read_payload);
    g_test_add_func("/hostile-client/region/write-mismatch",
                    test_region_write_mismatch);
    g_test_add_func("/hostile-client/region/write-denied",
                    test_region_write_denied);
    g_test_add_func("/hostile-client/region/write-multi",
                    test_region_write_multi);
    g_test_add_func("/hostile-client/region/info-argsz",
                    test_region_info_argsz);
    g_test_add_func("/hostile-client/irq/fd-count", test_irq_fd_count);
    g_test_add_func("/hostile-client/irq/range", test_irq_range);
    g_test_add_func("/hostile-client/irq/bad-index", test_irq_bad_index);
    g_test_add_func("/hostile-client/irq/bad-flags", test_irq_bad_flags);
    g_test_add_func("/hostile-client/irq/argsz", test_irq_argsz);
    g_test_add_func("/hostile-client/dma-map/flags", test_dma_map_flags);
    g_test_add_func("/hostile-client/dma-map/ranges", test_dma_map_ranges);
    g_test_add_func("/hostile-client/dma-map/overlap", test_dma_map_overlap);
    g_test_add_func("/hostile-client/dma-map/fds", test_dma_map_fds);
    g_test_add_func("/hostile-client/dma-map/argsz", test_dma_map_argsz);
    g_test_add_func("/hostile-client/dma-unmap/bad", test_dma_unmap_bad);
    g_test_add_func("/hostile-client/fds/flood-one", test_fds_flood_one);
    g_test_add_func("/hostile-client/fds/flood-many", test_fds_flood_many);
    g_test_add_func("/hostile-client/disconnect/mid-header",
                    test_disconnect_mid_header);
    g_test_add_func("/hostile-client/disconnect/mid-body",
                    test_disconnect_mid_body);
    g_test_add_func("/hostile-client/disconnect/clean", test_disconnect_clean);
    g_test_add_func("/hostile-client/stall/stop", test_stall_then_stop);
    g_test_add_func("/hostile-client/stall/stops-reading",
                    test_stall_stops_reading);
    g_test_add_func("/hostile-client/dma-reply/ok", test_dma_reply_ok);
    g_test_add_func("/hostile-client/dma-reply/error", test_dma_reply_error);
    g_test_add_func("/hostile-client/dma-reply/short", test_dma_reply_short);
    g_test_add_func("/hostile-client/dma-reply/wrong-id",
                    test_dma_reply_wrong_id);
    g_test_add_func("/hostile-client/dma-reply/silent", test_dma_reply_silent);
    g_test_add_func("/hostile-client/dma-reply/flood", test_dma_reply_flood);
    g_test_add_func("/hostile-client/dma-wait/posted-writes",
                    test_dma_wait_posted_writes);
    g_test_add_func("/hostile-client/dma-wait/queue-full",
                    test_dma_wait_queue_full);
    g_test_add_func("/hostile-client/misc/small-payloads",
                    test_misc_small_payloads);
    g_test_add_func("/hostile-client/irq/eventfd-full", test_irq_eventfd_full);
    return g_test_run();
}
