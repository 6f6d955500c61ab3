/*
 * vfu-bench limits: what the machine allows, measured the way the vfio-user
 * paths use it.  memcpy bandwidth (the ceiling of mmap DMA and mmapped
 * BARs), AF_UNIX round trips and streaming between two processes (the
 * floor of a request with a reply, the ceiling of message-mode DMA), and
 * pread/pwrite loops on a memfd and on /proc/self/mem (the ceiling of
 * file-io DMA).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include "bench.h"
#include "vfio-user/error.h"

static const uint64_t sizes[] = { 4 * KiB, 64 * KiB, 1 * MiB };

/* ---- memcpy ---- */

typedef struct CopyArgs {
    uint8_t *src, *dst;
    size_t len;
} CopyArgs;

static bool copy_batch(void *opaque, uint64_t iters, double *ns,
                       GError **errp)
{
    CopyArgs *a = opaque;
    uint64_t t0 = bench_now_ns();

    (void)errp;
    for (uint64_t i = 0; i < iters; i++) {
        memcpy(a->dst, a->src, a->len);
        __asm__ volatile("" : : "r"(a->dst) : "memory");
    }
    *ns = (double)(bench_now_ns() - t0);
    return true;
}

/* One 4-byte load per operation: the cost of a mmapped register read. */
static bool load4_batch(void *opaque, uint64_t iters, double *ns,
                        GError **errp)
{
    CopyArgs *a = opaque;
    uint32_t sum = 0;
    uint64_t t0 = bench_now_ns();

    (void)errp;
    for (uint64_t i = 0; i < iters; i++) {
        uint32_t v;

        memcpy(&v, a->src + ((i * 4) & 0xffc), 4);
        sum += v;
        __asm__ volatile("" : "+r"(sum) : : "memory");
    }
    *ns = (double)(bench_now_ns() - t0);
    return true;
}

static void limits_memcpy(void)
{
    CopyArgs a = {
        .src = g_malloc(1 * MiB), .dst = g_malloc(1 * MiB),
    };
    g_autoptr(GError) err = NULL;
    double ns;

    memset(a.src, 0x5a, 1 * MiB);
    memset(a.dst, 0, 1 * MiB);
    for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
        g_autofree char *key = g_strdup_printf("limit.memcpy.%" PRIu64,
                                               sizes[i]);
        g_autofree char *label = g_strdup_printf("memcpy %s",
                                                 bench_size_name(sizes[i]));

        a.len = sizes[i];
        if (bench_measure(copy_batch, &a, UINT64_MAX, &ns, &err)) {
            bench_add("limits", key, label, "MiB/s",
                      bench_mib_s(sizes[i], ns), NULL);
        }
    }
    if (bench_measure(load4_batch, &a, UINT64_MAX, &ns, &err)) {
        bench_add("limits", "limit.load4", "4-byte memory load", "ns/op", ns,
                  NULL);
    }
    g_free(a.src);
    g_free(a.dst);
}

/* ---- AF_UNIX between two processes ---- */

enum { PEER_PINGPONG = 1, PEER_STREAM = 2 };

typedef struct PeerCmd {
    uint32_t op;
    uint32_t pad;
    uint64_t count;
} PeerCmd;

static bool io_all(int fd, void *buf, size_t len, bool is_write)
{
    uint8_t *p = buf;

    while (len) {
        ssize_t n = is_write ? send(fd, p, len, MSG_NOSIGNAL)
                             : recv(fd, p, len, 0);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* The peer process: answers ping-pongs and streams on request. */
static int peer_main(int fd, int cpu)
{
    uint8_t *big = g_malloc0(1 * MiB);
    uint8_t small[16];
    PeerCmd cmd;

    bench_pin(cpu);
    while (io_all(fd, &cmd, sizeof(cmd), false)) {
        for (uint64_t i = 0; i < cmd.count; i++) {
            if (cmd.op == PEER_PINGPONG
                    ? !io_all(fd, small, sizeof(small), false) ||
                      !io_all(fd, small, sizeof(small), true)
                    : !io_all(fd, big, 1 * MiB, true)) {
                return 1;
            }
        }
    }
    return 0;
}

typedef struct Peer {
    pid_t pid;
    int fd;
    uint8_t *buf;
} Peer;

static bool peer_start(Peer *p, int cpu, GError **errp)
{
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        return vfu_error_set(errp, errno, "socketpair: %s", g_strerror(errno));
    }
    fflush(NULL);
    p->pid = fork();
    if (p->pid < 0) {
        close(sv[0]);
        close(sv[1]);
        return vfu_error_set(errp, errno, "fork: %s", g_strerror(errno));
    }
    if (p->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(sv[0]);
        _exit(peer_main(sv[1], cpu));
    }
    close(sv[1]);
    p->fd = sv[0];
    p->buf = g_malloc0(1 * MiB);
    return true;
}

static void peer_stop(Peer *p)
{
    close(p->fd);
    waitpid(p->pid, NULL, 0);
    g_free(p->buf);
}

static bool pingpong_batch(void *opaque, uint64_t iters, double *ns,
                           GError **errp)
{
    Peer *p = opaque;
    PeerCmd cmd = { .op = PEER_PINGPONG, .count = iters };
    uint64_t t0;

    if (!io_all(p->fd, &cmd, sizeof(cmd), true)) {
        return vfu_error_set(errp, EPIPE, "ping-pong peer went away");
    }
    t0 = bench_now_ns();
    for (uint64_t i = 0; i < iters; i++) {
        if (!io_all(p->fd, p->buf, 16, true) ||
            !io_all(p->fd, p->buf, 16, false)) {
            return vfu_error_set(errp, EPIPE, "ping-pong peer went away");
        }
    }
    *ns = (double)(bench_now_ns() - t0);
    return true;
}

static bool stream_batch(void *opaque, uint64_t iters, double *ns,
                         GError **errp)
{
    Peer *p = opaque;
    PeerCmd cmd = { .op = PEER_STREAM, .count = iters };
    uint64_t t0 = bench_now_ns();

    if (!io_all(p->fd, &cmd, sizeof(cmd), true)) {
        return vfu_error_set(errp, EPIPE, "streaming peer went away");
    }
    for (uint64_t i = 0; i < iters; i++) {
        if (!io_all(p->fd, p->buf, 1 * MiB, false)) {
            return vfu_error_set(errp, EPIPE, "streaming peer went away");
        }
    }
    *ns = (double)(bench_now_ns() - t0);
    return true;
}

static void limits_socket(BenchPlacement pl)
{
    const char *pn = bench_placement_name(pl);
    g_autoptr(GError) err = NULL;
    g_autofree char *k1 = g_strdup_printf("limit.sock_rtt.%s", pn);
    g_autofree char *l1 = g_strdup_printf("socket 16 B round trip (%s)", pn);
    g_autofree char *k2 = g_strdup_printf("limit.sock_stream.%s", pn);
    g_autofree char *l2 = g_strdup_printf("socket streaming 1 MiB (%s)", pn);
    Peer p;
    double ns;

    bench_pin(bench_placement_client_cpu(pl));
    if (!peer_start(&p, bench_placement_server_cpu(pl), &err)) {
        bench_add_error("limits", "socket peer", err);
        bench_pin(-1);
        return;
    }
    if (bench_measure(pingpong_batch, &p, UINT64_MAX, &ns, &err)) {
        bench_add("limits", k1, l1, "ns/op", ns, NULL);
    } else {
        bench_add_error("limits", l1, err);
        g_clear_error(&err);
    }
    if (bench_measure(stream_batch, &p, UINT64_MAX, &ns, &err)) {
        bench_add("limits", k2, l2, "MiB/s", bench_mib_s(1 * MiB, ns), NULL);
    } else {
        bench_add_error("limits", l2, err);
    }
    peer_stop(&p);
    bench_pin(-1);
}

/* ---- pread / pwrite ---- */

typedef struct FileArgs {
    int fd;
    off_t off;
    uint8_t *buf;
    size_t len;
    bool is_write;
} FileArgs;

static bool file_batch(void *opaque, uint64_t iters, double *ns,
                       GError **errp)
{
    FileArgs *a = opaque;
    uint64_t t0 = bench_now_ns();

    for (uint64_t i = 0; i < iters; i++) {
        ssize_t n = a->is_write ? pwrite(a->fd, a->buf, a->len, a->off)
                                : pread(a->fd, a->buf, a->len, a->off);

        if (n != (ssize_t)a->len) {
            return vfu_error_set(errp, n < 0 ? errno : EIO, "%s: %s",
                                 a->is_write ? "pwrite" : "pread",
                                 n < 0 ? g_strerror(errno) : "short");
        }
    }
    *ns = (double)(bench_now_ns() - t0);
    return true;
}

static void limits_file(const char *kind, int fd, off_t off)
{
    FileArgs a = { .fd = fd, .off = off, .buf = g_malloc0(1 * MiB) };
    g_autoptr(GError) err = NULL;
    double ns;

    for (int w = 0; w < 2; w++) {
        for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
            const char *op = w ? "pwrite" : "pread";
            g_autofree char *key = g_strdup_printf(
                "limit.%s.%s.%" PRIu64, kind, op, sizes[i]);
            g_autofree char *label = g_strdup_printf(
                "%s %s %s", kind, op, bench_size_name(sizes[i]));

            a.len = sizes[i];
            a.is_write = w;
            if (bench_measure(file_batch, &a, UINT64_MAX, &ns, &err)) {
                bench_add("limits", key, label, "MiB/s",
                          bench_mib_s(sizes[i], ns), NULL);
            } else {
                bench_add_error("limits", label, err);
                g_clear_error(&err);
            }
        }
    }
    g_free(a.buf);
}

static void limits_files(void)
{
    int memfd = memfd_create("vfu-bench-limit", MFD_CLOEXEC);
    int mem = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
    void *anon = mmap(NULL, 1 * MiB, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    GError *err = NULL;

    if (memfd >= 0 && ftruncate(memfd, 1 * MiB) == 0) {
        limits_file("memfd", memfd, 0);
    } else {
        vfu_error_set(&err, errno, "memfd: %s", g_strerror(errno));
        bench_add_error("limits", "memfd", err);
        g_clear_error(&err);
    }
    if (mem >= 0 && anon != MAP_FAILED) {
        memset(anon, 0x33, 1 * MiB);
        limits_file("procmem", mem, (off_t)(uintptr_t)anon);
    } else {
        vfu_error_set(&err, errno, "/proc/self/mem: %s", g_strerror(errno));
        bench_add_error("limits", "procmem", err);
        g_clear_error(&err);
    }
    if (memfd >= 0) {
        close(memfd);
    }
    if (mem >= 0) {
        close(mem);
    }
    if (anon != MAP_FAILED) {
        munmap(anon, 1 * MiB);
    }
}

void bench_limits(void)
{
    limits_memcpy();
    for (int p = BENCH_SAME_CPU; p <= BENCH_SPLIT_CPU; p++) {
        if (bench_placement_available(p)) {
            limits_socket(p);
        }
    }
    limits_files();
}
