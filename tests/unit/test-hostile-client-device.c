/*
 * Malicious-client tests, device access: libvfio-user-server against a
 * raw client that sends out-of-range or malformed region reads and
 * writes, bad REGION_INFO argsz, and broken SET_IRQS requests (fd counts,
 * ranges, indexes, flags, argsz), or lets an irq eventfd fill up.
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

#include "raw-client.h"
#include "vfio-user/caps.h"
#include "vfio-user/error.h"
#include "vfio-user/server.h"
#include "vfio-user/transport.h"
#include "vfu-test.h"

/* ---- region access ---- */

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

int main(int argc, char **argv)
{
    /* Go on past a failed case, so that one run reports every failure. */
    vut_init_keep_going(&argc, &argv);
    g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);

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
    g_test_add_func("/hostile-client/irq/eventfd-full", test_irq_eventfd_full);
    return g_test_run();
}
