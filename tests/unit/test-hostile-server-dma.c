/*
 * Malicious-server tests, DMA: the client's container against a scripted
 * fake server that sends DMA_READ / DMA_WRITE requests outside the maps,
 * to read-only maps, across holes, with overflowing or absurd counts,
 * mismatched payloads, fds or short headers, floods them, stalls in the
 * middle of one, or sends one right after DMA_MAP.
 *
 * Every case checks what the client does about it (error and errno,
 * connection dropped or kept, guest memory unchanged), that it finished
 * quickly (short message timeouts, bounded waits), and that no fd leaked.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <glib.h>

#include "hw/vfio-user/container.h"
#include "hw/vfio-user/device.h"
#include "hw/vfio-user/proxy.h"
#include "hostile-server-case.h"
#include "scripted-server.h"
#include "vfio-user/error.h"
#include "vfio-user/transport.h"
#include "vfu-test.h"

/* ---- DMA requests from the server ---- */

#define RAM_SIZE (16 * 4096)
#define A_IOVA 0x100000ull /* 16 KiB read/write: ram + 0 */
#define B_IOVA 0x104000ull /* 16 KiB read-only: ram + 0x4000, follows A */
#define C_IOVA 0x200000ull /* 16 KiB read/write: ram + 0x8000, after a hole */
#define MAP_SIZE 0x4000ull
#define OUR_XFER VFIO_USER_DEF_MAX_XFER /* what the client offers */

typedef struct DmaEnv {
    Case c;
    VFIOUserContainer *ct;
    uint8_t *ram;
    uint8_t *snap;
    GMutex lock;
    GCond cond;
    bool failed; /* the proxy's failure notify ran */
} DmaEnv;

/* Fake: VERSION, then accept the three maps; the test adds its steps. */
static void dma_begin(DmaEnv *e)
{
    memset(e, 0, sizeof(*e));
    case_begin(&e->c);
    fake_version(e->c.fs, NULL);
    fake_accept_maps(e->c.fs, 3);
    /* The client inserts a map once the reply is in: start DMA after. */
    fake_wait_go(e->c.fs);
    g_mutex_init(&e->lock);
    g_cond_init(&e->cond);
}

static void dma_on_failure(VFIOUserProxy *p, const GError *err, void *opaque)
{
    DmaEnv *e = opaque;

    (void)p;
    (void)err;
    g_mutex_lock(&e->lock);
    e->failed = true;
    g_cond_broadcast(&e->cond);
    g_mutex_unlock(&e->lock);
}

static void dma_map(DmaEnv *e, const char *name, uint64_t iova, size_t off,
                    bool ro)
{
    VFIOUserDMASection s = {
        .name = name,
        .iova = iova,
        .size = MAP_SIZE,
        .host = e->ram + off,
        .fd = -1,
        .readonly = ro,
    };
    GError *err = NULL;

    g_assert_true(vfio_user_container_map(e->ct, &s, &err));
    g_assert_no_error(err);
}

/* Start the fake, map guest RAM (anonymous, so every map is served by
 * messages), then let the fake run its DMA steps. */
static void dma_run(DmaEnv *e, uint32_t timeout_ms)
{
    fake_notify(e->c.fs);
    fake_echo_until_eof(e->c.fs);
    e->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    g_assert_true(e->ram != MAP_FAILED);
    for (size_t i = 0; i < RAM_SIZE; i++) {
        e->ram[i] = (uint8_t)(i * 7 + 3);
    }
    e->snap = g_memdup2(e->ram, RAM_SIZE);
    case_connect(&e->c, timeout_ms);
    vfio_user_proxy_set_failure_notify(e->c.p, dma_on_failure, e);
    e->ct = vfio_user_container_new(e->c.p, VFIO_USER_DMA_ACCESS_AUTO);
    dma_map(e, "ram-a", A_IOVA, 0, false);
    dma_map(e, "ram-b", B_IOVA, MAP_SIZE, true);
    dma_map(e, "ram-c", C_IOVA, 2 * MAP_SIZE, false);
    fake_go(e->c.fs);
}

static void dma_wait(DmaEnv *e)
{
    g_assert_true(fake_wait_notify(e->c.fs));
}

static void dma_end(DmaEnv *e)
{
    vfio_user_container_free(e->ct);
    case_end(&e->c);
    munmap(e->ram, RAM_SIZE);
    g_free(e->snap);
    g_cond_clear(&e->cond);
    g_mutex_clear(&e->lock);
}

/* errno of the client's reply to the @k-th DMA request (0: success). */
static int dma_result(DmaEnv *e, unsigned k)
{
    const FakeMsg *m = fake_captured(e->c.fs, 4 + k);

    g_assert_true(vfio_user_hdr_is_reply(&m->hdr));
    g_assert_true(m->hdr.cmd == VFIO_USER_DMA_READ ||
                  m->hdr.cmd == VFIO_USER_DMA_WRITE);
    if (!(m->hdr.flags & VFIO_USER_F_ERROR)) {
        return 0;
    }
    g_assert_cmpuint(m->len, ==, 0);
    return (int)m->hdr.error;
}

static void assert_ram_unchanged(DmaEnv *e)
{
    g_assert_cmpmem(e->ram, RAM_SIZE, e->snap, RAM_SIZE);
}

/* Each request is refused with its errno and guest memory is untouched. */
typedef struct BadDma {
    uint16_t cmd;
    uint64_t addr, count;
    size_t data; /* DMA_WRITE payload bytes sent */
    int want;
} BadDma;

static void bad_dma_case(const BadDma *bad, size_t n)
{
    static uint8_t junk[OUR_XFER + 64];
    VFIOUserDMAStats st;
    DmaEnv e;

    memset(junk, 0xa5, sizeof(junk));
    dma_begin(&e);
    for (size_t i = 0; i < n; i++) {
        g_assert_cmpuint(bad[i].data, <=, sizeof(junk));
        fake_dma(e.c.fs, bad[i].cmd, bad[i].addr, bad[i].count, junk,
                 bad[i].data);
    }
    /* A valid read afterwards proves the connection survived. */
    fake_dma(e.c.fs, VFIO_USER_DMA_READ, A_IOVA, 16, NULL, 0);
    dma_run(&e, 2000);
    dma_wait(&e);
    for (size_t i = 0; i < n; i++) {
        int got = dma_result(&e, i);

        if (got != bad[i].want) {
            g_test_fail_printf("request %zu (%s 0x%" G_GINT64_MODIFIER
                               "x+0x%" G_GINT64_MODIFIER
                               "x): errno %d, expected %d",
                               i, vfio_user_cmd_name(bad[i].cmd), bad[i].addr,
                               bad[i].count, got, bad[i].want);
        }
    }
    g_assert_cmpint(dma_result(&e, n), ==, 0);
    assert_ram_unchanged(&e);
    vfio_user_container_stats(e.ct, &st);
    g_assert_cmpuint(st.dma_rejected, ==, n);
    g_assert_cmpint(vfio_user_proxy_state(e.c.p), ==, VFIO_PROXY_CONNECTED);
    dma_end(&e);
}

static void test_dma_outside_maps(void)
{
    static const BadDma bad[] = {
        {VFIO_USER_DMA_READ, 0x300000, 16, 0, EFAULT},
        {VFIO_USER_DMA_READ, 0, 16, 0, EFAULT},
        {VFIO_USER_DMA_WRITE, 0, 16, 16, EFAULT},
        {VFIO_USER_DMA_WRITE, A_IOVA - 8, 16, 16, EFAULT},
        {VFIO_USER_DMA_WRITE, C_IOVA + MAP_SIZE, 16, 16, EFAULT},
        {VFIO_USER_DMA_READ, C_IOVA + MAP_SIZE - 8, 16, 0, EFAULT},
    };

    bad_dma_case(bad, G_N_ELEMENTS(bad));
}

static void test_dma_readonly(void)
{
    static const BadDma bad[] = {
        {VFIO_USER_DMA_WRITE, B_IOVA, 16, 16, EPERM},
        {VFIO_USER_DMA_WRITE, B_IOVA + MAP_SIZE - 1, 1, 1, EPERM},
        /* Starts in writable A, ends in read-only B: nothing is written. */
        {VFIO_USER_DMA_WRITE, B_IOVA - 16, 32, 32, EPERM},
    };

    bad_dma_case(bad, G_N_ELEMENTS(bad));
}

static void test_dma_across_hole(void)
{
    static const BadDma bad[] = {
        {VFIO_USER_DMA_READ, B_IOVA + MAP_SIZE - 16, 32, 0, EFAULT},
        {VFIO_USER_DMA_READ, A_IOVA, C_IOVA - A_IOVA + 16, 0, EMSGSIZE},
        {VFIO_USER_DMA_WRITE, C_IOVA - 16, 32, 32, EFAULT},
        {VFIO_USER_DMA_READ, A_IOVA, 2 * MAP_SIZE + 16, 0, EFAULT},
    };

    bad_dma_case(bad, G_N_ELEMENTS(bad));
}

static void test_dma_overflow(void)
{
    static const BadDma bad[] = {
        {VFIO_USER_DMA_READ, UINT64_MAX - 15, 32, 0, EINVAL},
        {VFIO_USER_DMA_WRITE, UINT64_MAX - 15, 32, 32, EINVAL},
        {VFIO_USER_DMA_READ, A_IOVA, UINT64_MAX, 0, EINVAL},
        {VFIO_USER_DMA_WRITE, UINT64_MAX, 1, 1, EINVAL},
    };

    bad_dma_case(bad, G_N_ELEMENTS(bad));
}

static void test_dma_count_zero(void)
{
    static const BadDma bad[] = {
        {VFIO_USER_DMA_READ, A_IOVA, 0, 0, EINVAL},
        {VFIO_USER_DMA_WRITE, A_IOVA, 0, 0, EINVAL},
        {VFIO_USER_DMA_WRITE, A_IOVA, 0, 16, EINVAL},
    };

    bad_dma_case(bad, G_N_ELEMENTS(bad));
}

static void test_dma_count_over_max(void)
{
    static const BadDma bad[] = {
        {VFIO_USER_DMA_READ, A_IOVA, OUR_XFER + 1, 0, EMSGSIZE},
        {VFIO_USER_DMA_WRITE, A_IOVA, OUR_XFER + 1, OUR_XFER + 1, EMSGSIZE},
        {VFIO_USER_DMA_WRITE, A_IOVA, 1ull << 40, 8, EMSGSIZE},
    };

    bad_dma_case(bad, G_N_ELEMENTS(bad));
}

static void test_dma_payload_mismatch(void)
{
    static const BadDma bad[] = {
        {VFIO_USER_DMA_WRITE, A_IOVA, 16, 8, EINVAL},
        {VFIO_USER_DMA_WRITE, A_IOVA, 8, 16, EINVAL},
        {VFIO_USER_DMA_READ, A_IOVA, 16, 8, EINVAL},
        {VFIO_USER_DMA_WRITE, C_IOVA, 4096, 0, EINVAL},
    };

    bad_dma_case(bad, G_N_ELEMENTS(bad));
}

/* Positive controls: the same machinery moves data when it should. */
static void test_dma_valid(void)
{
    static const uint8_t data[16] = "hostile-dma-ok!";
    const FakeMsg *m;
    DmaEnv e;

    dma_begin(&e);
    fake_dma(e.c.fs, VFIO_USER_DMA_READ, B_IOVA - 16, 32, NULL, 0);
    fake_dma(e.c.fs, VFIO_USER_DMA_WRITE, C_IOVA + 0x100, 16, data, 16);
    dma_run(&e, 2000);
    dma_wait(&e);
    g_assert_cmpint(dma_result(&e, 0), ==, 0);
    m = fake_captured(e.c.fs, 4);
    g_assert_cmpuint(m->len, ==, sizeof(VFIOUserDMARW) + 32);
    g_assert_cmpmem(m->payload + sizeof(VFIOUserDMARW), 32,
                    e.snap + MAP_SIZE - 16, 32);
    g_assert_cmpint(dma_result(&e, 1), ==, 0);
    g_assert_cmpmem(e.ram + 2 * MAP_SIZE + 0x100, 16, data, 16);
    memcpy(e.snap + 2 * MAP_SIZE + 0x100, data, 16);
    assert_ram_unchanged(&e);
    dma_end(&e);
}

/* A DMA request carrying fds: they are closed, the request is served. */
static void test_dma_with_fds(void)
{
    struct VFIO_USER_PACKED {
        VFIOUserHdr hdr;
        uint64_t addr, count; /* VFIOUserDMARW */
    } msg;
    int fds[4];
    DmaEnv e;

    vfio_user_hdr_init(&msg.hdr, 0x6000, VFIO_USER_DMA_READ, sizeof(msg),
                       VFIO_USER_F_TYPE_REQUEST);
    msg.addr = A_IOVA;
    msg.count = 8;
    dma_begin(&e);
    make_fds(fds, G_N_ELEMENTS(fds));
    fake_send_raw(e.c.fs, &msg, sizeof(msg), fds, G_N_ELEMENTS(fds));
    fake_capture(e.c.fs);
    vfio_user_close_fds(fds, G_N_ELEMENTS(fds));
    dma_run(&e, 2000);
    dma_wait(&e);
    g_assert_cmpint(dma_result(&e, 0), ==, 0);
    dma_end(&e);
}

static bool dma_wait_failed(DmaEnv *e, int ms)
{
    gint64 deadline = vut_deadline_ms(ms);
    bool ok = true;

    g_mutex_lock(&e->lock);
    while (!e->failed && ok) {
        ok = g_cond_wait_until(&e->cond, &e->lock, deadline);
    }
    g_mutex_unlock(&e->lock);
    return e->failed;
}

/*
 * A DMA request shorter than its own header (framing intact: its size
 * says where the next message starts) is refused with EINVAL, memory
 * untouched, and the connection stays usable.
 */
static void test_dma_short_header(void)
{
    static const uint8_t eight[8] = {0};
    VFIOUserDMAStats st;
    DmaEnv e;

    dma_begin(&e);
    fake_send_msg(e.c.fs, NULL, VFIO_USER_DMA_WRITE, VFIO_USER_F_TYPE_REQUEST,
                  eight, sizeof(eight));
    fake_capture(e.c.fs);
    fake_send_msg(e.c.fs, NULL, VFIO_USER_DMA_READ, VFIO_USER_F_TYPE_REQUEST,
                  eight, 4);
    fake_capture(e.c.fs);
    fake_dma(e.c.fs, VFIO_USER_DMA_READ, A_IOVA, 16, NULL, 0);
    dma_run(&e, 2000);
    dma_wait(&e);
    g_assert_cmpint(dma_result(&e, 0), ==, EINVAL);
    g_assert_cmpint(dma_result(&e, 1), ==, EINVAL);
    g_assert_cmpint(dma_result(&e, 2), ==, 0);
    assert_ram_unchanged(&e);
    vfio_user_container_stats(e.ct, &st);
    g_assert_cmpuint(st.dma_rejected, ==, 2);
    g_assert_cmpint(vfio_user_proxy_state(e.c.p), ==, VFIO_PROXY_CONNECTED);
    dma_end(&e);
}

/* A DMA_WRITE cut by a hang-up: the connection is dropped, guest memory
 * keeps at most what arrived. */
static void test_dma_malformed_drop(void)
{
    struct VFIO_USER_PACKED {
        VFIOUserHdr hdr;
        uint64_t addr, count; /* VFIOUserDMARW */
        uint8_t data[16];
    } cut;
    DmaEnv e;

    dma_begin(&e);
    vfio_user_hdr_init(&cut.hdr, 0x6001, VFIO_USER_DMA_WRITE,
                       sizeof(VFIOUserHdr) + sizeof(VFIOUserDMARW) + 64,
                       VFIO_USER_F_TYPE_REQUEST);
    cut.addr = C_IOVA;
    cut.count = 64;
    memset(cut.data, 0x5a, sizeof(cut.data));
    fake_send_raw(e.c.fs, &cut, sizeof(cut), NULL, 0);
    fake_hangup(e.c.fs);
    dma_run(&e, 2000);
    g_assert_true(dma_wait_failed(&e, 5000));
    g_assert_cmpint(vfio_user_proxy_state(e.c.p), ==, VFIO_PROXY_ERROR);
    /* Zero copy: what arrived may be in guest RAM, nothing more. */
    memcpy(e.snap + 2 * MAP_SIZE, cut.data, sizeof(cut.data));
    assert_ram_unchanged(&e);
    dma_end(&e);
}

/*
 * A server may use a map as soon as it has acknowledged it: a DMA request
 * sent right behind the DMA_MAP reply must find the map in place.  The
 * client loses that race only sometimes (it depends on which thread runs
 * first), hence many maps: one refusal is enough to fail.
 */
static void test_dma_right_after_map(void)
{
    enum { N = 1000 };
    g_autofree uint8_t *ram = g_malloc0(N * 4096);
    VFIOUserContainer *ct;
    unsigned refused = 0;
    GError *err = NULL;
    Case c;

    case_begin(&c);
    fake_version(c.fs, NULL);
    for (unsigned k = 0; k < N; k++) {
        fake_expect(c.fs, VFIO_USER_DMA_MAP);
        fake_reply(c.fs, NULL, 0);
        fake_dma(c.fs, VFIO_USER_DMA_READ, A_IOVA + k * 0x10000ull, 16, NULL,
                 0);
        fake_notify(c.fs);
    }
    fake_echo_until_eof(c.fs);
    case_connect(&c, 2000);
    ct = vfio_user_container_new(c.p, VFIO_USER_DMA_ACCESS_AUTO);
    for (unsigned k = 0; k < N; k++) {
        VFIOUserDMASection s = {
            .name = "ram",
            .iova = A_IOVA + k * 0x10000ull,
            .size = 4096,
            .host = ram + k * 4096,
            .fd = -1,
        };

        g_assert_true(vfio_user_container_map(ct, &s, &err));
        g_assert_no_error(err);
        /* The next DMA_MAP only after the DMA reply reached the fake. */
        g_assert_true(fake_wait_notify(c.fs));
    }
    for (unsigned k = 0; k < N; k++) {
        const FakeMsg *m = fake_captured(c.fs, 2 + 2 * k);

        g_assert_cmpuint(m->hdr.cmd, ==, VFIO_USER_DMA_READ);
        refused += !!(m->hdr.flags & VFIO_USER_F_ERROR);
    }
    if (refused) {
        g_test_fail_printf(
            "%u of %d DMA_READs sent right after their DMA_MAP reply were refused: the client inserts a map only after the reply was processed",
            refused, N);
    }
    vfio_user_container_free(ct);
    case_end(&c);
}

/* 10,000 DMA requests without waiting: every one is answered, a request
 * of our own still goes through, and memory stays flat. */
static void test_dma_flood(void)
{
    VFIOUserDeviceInfo info;
    VFIOUserDMAStats st;
    GError *err = NULL;
    size_t rss0 = hs_rss_kb();
    gint64 t0;
    DmaEnv e;

    dma_begin(&e);
    fake_dma_flood(e.c.fs, 10000, A_IOVA + 64, 8, &info_reply,
                   sizeof(info_reply));
    /* Our reply queues behind the flood's backlog in the socket: allow
     * for that (slow under sanitizers), but it must come. */
    dma_run(&e, 20000);
    t0 = g_get_monotonic_time();
    call_info(e.c.p, &info, &err);
    g_assert_no_error(err);
    g_test_message("own request answered in %" G_GINT64_FORMAT " ms",
                   (g_get_monotonic_time() - t0) / 1000);
    dma_wait(&e);
    g_assert_cmpuint(fake_flood_ok(e.c.fs), ==, 10000);
    g_assert_cmpuint(fake_flood_errors(e.c.fs), ==, 0);
    g_test_message("client request answered during the flood: %u",
                   fake_flood_answered(e.c.fs));
    vfio_user_container_stats(e.ct, &st);
    g_assert_cmpuint(st.dma_reads, ==, 10000);
    g_assert_cmpuint(st.dma_rejected, ==, 0);
    g_test_message("RSS %zu KiB -> %zu KiB", rss0, hs_rss_kb());
    g_assert_cmpuint(hs_rss_kb(), <, rss0 + 16 * 1024);
    assert_ram_unchanged(&e);
    dma_end(&e);
}

typedef struct UnmapJob {
    VFIOUserContainer *ct;
    VutEvent done;
} UnmapJob;

static gpointer unmap_thread(gpointer opaque)
{
    UnmapJob *j = opaque;
    GError *err = NULL;

    vfio_user_container_unmap(j->ct, A_IOVA, MAP_SIZE, &err);
    g_clear_error(&err);
    vut_event_set(&j->done);
    return NULL;
}

/*
 * The server sends a DMA_WRITE header and part of its data, then nothing.
 * Requests of our own time out; unmapping guest memory (e.g. hot-unplug)
 * must not hang behind the stalled request either.
 */
static void test_dma_stall_mid_write(void)
{
    struct VFIO_USER_PACKED {
        VFIOUserHdr hdr;
        uint64_t addr, count; /* VFIOUserDMARW */
        uint8_t data[16];
    } cut;
    VFIOUserDeviceInfo info;
    UnmapJob job = {0};
    GError *err = NULL;
    GThread *t;
    gint64 t0;
    DmaEnv e;

    vfio_user_hdr_init(&cut.hdr, 0x6002, VFIO_USER_DMA_WRITE,
                       sizeof(VFIOUserHdr) + sizeof(VFIOUserDMARW) + 64,
                       VFIO_USER_F_TYPE_REQUEST);
    cut.addr = C_IOVA;
    cut.count = 64;
    memset(cut.data, 0x5a, sizeof(cut.data));
    dma_begin(&e);
    fake_send_raw(e.c.fs, &cut, sizeof(cut), NULL, 0);
    dma_run(&e, T_MS);
    dma_wait(&e);
    t0 = g_get_monotonic_time();
    g_assert_false(call_info(e.c.p, &info, &err));
    assert_err(err, ETIMEDOUT);
    g_clear_error(&err);
    assert_quick(t0, T_MS + QUICK_MS);

    job.ct = e.ct;
    vut_event_init(&job.done);
    t = g_thread_new("unmap", unmap_thread, &job);
    if (!vut_event_wait(&job.done, 3 * T_MS + QUICK_MS)) {
        g_test_fail_printf(
            "vfio_user_container_unmap() still blocked %d ms after a server stalled in the middle of a DMA_WRITE",
            3 * T_MS + QUICK_MS);
    }
    /* Either way, end the stall so that the unmap can finish. */
    fake_kill(e.c.fs);
    g_thread_join(t);
    vut_event_clear(&job.done);
    dma_end(&e);
}

int main(int argc, char **argv)
{
    /* Go on past a failed case, so that one run reports every failure. */
    vut_init_keep_going(&argc, &argv);
    /* Warnings about the hostile peer are expected; criticals are not. */
    g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);

    g_test_add_func("/hostile-server/dma/outside-maps", test_dma_outside_maps);
    g_test_add_func("/hostile-server/dma/readonly", test_dma_readonly);
    g_test_add_func("/hostile-server/dma/across-hole", test_dma_across_hole);
    g_test_add_func("/hostile-server/dma/overflow", test_dma_overflow);
    g_test_add_func("/hostile-server/dma/count-zero", test_dma_count_zero);
    g_test_add_func("/hostile-server/dma/count-over-max",
                    test_dma_count_over_max);
    g_test_add_func("/hostile-server/dma/payload-mismatch",
                    test_dma_payload_mismatch);
    g_test_add_func("/hostile-server/dma/valid", test_dma_valid);
    g_test_add_func("/hostile-server/dma/with-fds", test_dma_with_fds);
    g_test_add_func("/hostile-server/dma/short-header-einval",
                    test_dma_short_header);
    g_test_add_func("/hostile-server/dma/malformed-drop",
                    test_dma_malformed_drop);
    g_test_add_func("/hostile-server/dma/flood", test_dma_flood);
    g_test_add_func("/hostile-server/dma/stall-mid-write",
                    test_dma_stall_mid_write);
    g_test_add_func("/hostile-server/dma/right-after-map",
                    test_dma_right_after_map);
    return g_test_run();
}
