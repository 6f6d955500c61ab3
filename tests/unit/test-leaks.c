/*
 * Leak checks: a thousand full sessions between the real client library
 * (proxy + device + DMA container) and the real server library over a
 * UNIX socket in a temporary directory: connect, negotiate, device and
 * region info (with a mmapped BAR), DMA maps in mmap and message mode, a
 * DMA in each mode, unmap, disconnect.  Afterwards the process must hold
 * exactly the fds, memory mappings and threads it held before the cycles
 * (with one malloc arena, so that contention does not add mappings).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "hw/vfio-user/container.h"
#include "hw/vfio-user/device.h"
#include "hw/vfio-user/proxy.h"
#include "vfio-user/server.h"
#include "vfu-test.h"

#define CYCLES 1000
#define WARMUP 5
#define GUEST_SIZE (64 * 1024)
#define MEMFD_IOVA 0x100000ull
#define ANON_IOVA 0x200000ull

/* BAR0: write 1 to 0x0 = DMA 64 bytes from MEMFD_IOVA to ANON_IOVA. */
typedef struct LeakServer {
    VusServer *srv;
    GThread *thread;
    GMutex lock; /* guards sessions */
    GCond cond;
    unsigned sessions; /* vus_server_run() calls that returned */
    uint8_t bar0[4096];
    uint32_t dma_status;
} LeakServer;

static ssize_t bar0_access(void *opaque, bool is_write, uint64_t off, void *buf,
                           size_t len)
{
    LeakServer *ls = opaque;
    uint8_t data[64];
    GError *err = NULL;

    if (!is_write) {
        memcpy(buf, ls->bar0 + off, len);
        return len;
    }
    memcpy(ls->bar0 + off, buf, len);
    if (off == 0) {
        bool ok = vus_dma_read(ls->srv, MEMFD_IOVA, data, sizeof(data), &err) &&
                  vus_dma_write(ls->srv, ANON_IOVA, data, sizeof(data), &err);

        ls->dma_status = ok ? 0 : err->code;
        g_clear_error(&err);
    }
    return len;
}

static gpointer server_main(gpointer opaque)
{
    LeakServer *ls = opaque;
    GError *err = NULL;

    while (vus_server_accept(ls->srv, &err)) {
        g_assert_true(vus_server_run(ls->srv, &err));
        g_mutex_lock(&ls->lock);
        ls->sessions++;
        g_cond_broadcast(&ls->cond);
        g_mutex_unlock(&ls->lock);
    }
    g_assert_error(err, VFIO_USER_ERROR, ECANCELED);
    g_error_free(err);
    return NULL;
}

static void server_start(LeakServer *ls, const char *path)
{
    VusRegionDesc bar0 = {.size = sizeof(ls->bar0),
                          .flags = VUS_REGION_F_RW,
                          .access = bar0_access,
                          .opaque = ls};
    VusRegionDesc bar1 = {.size = 8192, .flags = VUS_REGION_F_RW, .mem = true};
    VusPciDesc pci = {.vendor_id = 0x1234,
                      .device_id = 0x5678,
                      .class_code = 0xff0000,
                      .intx_pin = 1,
                      .msi_vectors = 1};
    GError *err = NULL;

    memset(ls, 0, sizeof(*ls));
    g_mutex_init(&ls->lock);
    g_cond_init(&ls->cond);
    ls->srv = vus_server_new(path, NULL, &err);
    g_assert_no_error(err);
    g_assert_true(vus_server_setup_region(ls->srv, VFIO_PCI_BAR0_REGION_INDEX,
                                          &bar0, NULL, &err));
    g_assert_true(vus_server_setup_region(ls->srv, VFIO_PCI_BAR1_REGION_INDEX,
                                          &bar1, NULL, &err));
    g_assert_true(vus_server_setup_pci(ls->srv, &pci, &err));
    g_assert_no_error(err);
    ls->thread = g_thread_new("leak-server", server_main, ls);
}

static void server_wait_sessions(LeakServer *ls, unsigned n)
{
    gint64 deadline = vut_deadline_ms(10000);

    g_mutex_lock(&ls->lock);
    while (ls->sessions < n) {
        g_assert_true(g_cond_wait_until(&ls->cond, &ls->lock, deadline));
    }
    g_mutex_unlock(&ls->lock);
}

static void server_stop(LeakServer *ls)
{
    vus_server_stop(ls->srv);
    g_thread_join(ls->thread);
    vus_server_free(ls->srv);
    g_cond_clear(&ls->cond);
    g_mutex_clear(&ls->lock);
}

typedef struct Guest {
    int memfd;
    uint8_t *mem;  /* GUEST_SIZE bytes of the memfd, shared */
    uint8_t *anon; /* GUEST_SIZE bytes of anonymous memory */
} Guest;

/* One whole session; checks that both DMA modes moved the data. */
static void session(const char *path, Guest *g, unsigned i)
{
    VFIOUserDMASection s_fd = {
        .name = "ram-memfd",
        .iova = MEMFD_IOVA,
        .size = GUEST_SIZE,
        .host = g->mem,
        .fd = g->memfd,
    };
    VFIOUserDMASection s_anon = {
        .name = "ram-anon",
        .iova = ANON_IOVA,
        .size = GUEST_SIZE,
        .host = g->anon,
        .fd = -1,
    };
    VFIOUserProxyOptions o;
    VFIOUserContainer *c;
    VFIOUserDevice dev;
    VFIOUserProxy *p;
    GError *err = NULL;
    uint32_t one = 1, bar1 = 0;

    vfio_user_proxy_options_init(&o);
    o.msg_timeout_ms = 2000;
    p = vfio_user_proxy_connect(path, &o, &err);
    g_assert_no_error(err);
    g_assert_true(vfio_user_device_init(&dev, p, &err));
    g_assert_no_error(err);
    c = vfio_user_container_new(p, VFIO_USER_DMA_ACCESS_AUTO);
    g_assert_true(vfio_user_container_map(c, &s_fd, &err));
    g_assert_true(vfio_user_container_map(c, &s_anon, &err));
    g_assert_no_error(err);

    memset(g->mem, (int)(i & 0xff), 64);
    g_assert_true(vfio_user_region_write(&dev, VFIO_PCI_BAR0_REGION_INDEX, 0,
                                         &one, 4, false, &err));
    g_assert_no_error(err);
    g_assert_cmpmem(g->anon, 64, g->mem, 64);
    /* BAR1 through its mapping, BAR0 through messages. */
    g_assert_true(vfio_user_region_write(&dev, VFIO_PCI_BAR1_REGION_INDEX, 8,
                                         &i, 4, false, &err));
    g_assert_true(vfio_user_region_read(&dev, VFIO_PCI_BAR1_REGION_INDEX, 8,
                                        &bar1, 4, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(bar1, ==, i);

    g_assert_true(vfio_user_container_unmap(c, ANON_IOVA, GUEST_SIZE, &err));
    g_assert_no_error(err);
    /* The memfd map is left for vfio_user_container_free() to unmap. */
    vfio_user_container_free(c);
    vfio_user_device_cleanup(&dev);
    vfio_user_proxy_close(p);
}

static void test_cycles(void)
{
    g_autofree char *dir = vut_sock_dir_new("vfu-leaks");
    g_autofree char *path = g_build_filename(dir, "leak.sock", NULL);
    unsigned fds0, maps0, fds1, maps1, threads0;
    gint64 t0;
    LeakServer ls;
    Guest g;

    g.memfd = memfd_create("leak-guest", MFD_CLOEXEC);
    g_assert_cmpint(g.memfd, >=, 0);
    g_assert_cmpint(ftruncate(g.memfd, GUEST_SIZE), ==, 0);
    g.mem =
        mmap(NULL, GUEST_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, g.memfd, 0);
    g.anon = mmap(NULL, GUEST_SIZE, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    g_assert_true(g.mem != MAP_FAILED && g.anon != MAP_FAILED);
    server_start(&ls, path);

    /* Thread stacks, malloc arenas and glib's lazily made state settle in
     * the first sessions; measure after them. */
    for (unsigned i = 0; i < WARMUP; i++) {
        session(path, &g, i);
        server_wait_sessions(&ls, i + 1);
    }
    fds0 = vut_count_fds();
    maps0 = vut_count_maps();
    threads0 = vut_count_threads();
    t0 = g_get_monotonic_time();
    for (unsigned i = 0; i < CYCLES; i++) {
        session(path, &g, WARMUP + i);
        server_wait_sessions(&ls, WARMUP + i + 1);
    }
    fds1 = vut_count_fds();
    maps1 = vut_count_maps();
    g_test_message("%d sessions in %" G_GINT64_FORMAT
                   " ms; fds %u -> %u, mappings %u -> %u",
                   CYCLES, (g_get_monotonic_time() - t0) / 1000, fds0, fds1,
                   maps0, maps1);
    g_assert_cmpuint(ls.dma_status, ==, 0);
    g_assert_cmpuint(fds1, ==, fds0);
    g_assert_cmpuint(maps1, ==, maps0);
    g_assert_cmpuint(vut_count_threads(), ==, threads0);

    server_stop(&ls);
    munmap(g.mem, GUEST_SIZE);
    munmap(g.anon, GUEST_SIZE);
    close(g.memfd);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    g_assert_true(vut_sock_dir_remove(dir, NULL));
}

int main(int argc, char **argv)
{
#ifdef __GLIBC__
    /*
     * glibc makes a new malloc arena (two mappings) when a thread finds
     * its arena busy, so how many there are depends on timing, not on a
     * leak: keep one.  Leaked large allocations are still mappings.
     */
    mallopt(M_ARENA_MAX, 1);
#endif
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/leaks/session-cycles", test_cycles);
    return g_test_run();
}
