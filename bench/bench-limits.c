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
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include "bench.h"
#include "vfio-user/error.h"
#include "vfio-user/transport.h"

static const uint64_t sizes[] = {4 * KiB, 64 * KiB, 1 * MiB};

/* ---- the probes ---- */

typedef enum LimitKind {
    LIMIT_MEMCPY,
    LIMIT_LOAD4,
    LIMIT_FILE,
    LIMIT_PINGPONG,
    LIMIT_PINGPONG_WAIT,
    LIMIT_STREAM,
    LIMIT_ONEWAY,
} LimitKind;

typedef struct Peer {
    pid_t pid;
    int fd;
} Peer;

struct BenchLimit {
    LimitKind kind;
    int cpu;        /* in-process probes run pinned here; -1: anywhere */
    uint64_t bytes; /* per operation */
    uint8_t *src;   /* memcpy source, load4 source */
    uint8_t *buf;   /* memcpy destination, file and socket buffer */
    int fd;         /* file probes: the memfd or /proc/self/mem */
    off_t off;
    bool is_write;
    uint8_t *mem; /* file probes: the memory behind fd */
    Peer peer;    /* socket probes */
};

#define LIMIT_MEM_SIZE (2 * MiB) /* as big as the guest RAM */

static BenchLimit *limit_new(LimitKind kind, uint64_t bytes, int cpu)
{
    BenchLimit *l = g_new0(BenchLimit, 1);

    l->kind = kind;
    l->bytes = bytes;
    l->cpu = cpu;
    l->fd = -1;
    l->peer.pid = -1;
    l->peer.fd = -1;
    l->buf = g_malloc(1 * MiB);
    memset(l->buf, 0x11, 1 * MiB); /* fault it in */
    return l;
}

BenchLimit *bench_limit_memcpy(uint64_t size, int cpu)
{
    BenchLimit *l = limit_new(LIMIT_MEMCPY, size, cpu);

    l->src = g_malloc(1 * MiB);
    memset(l->src, 0x5a, 1 * MiB);
    return l;
}

BenchLimit *bench_limit_load4(int cpu)
{
    BenchLimit *l = bench_limit_memcpy(4, cpu);

    l->kind = LIMIT_LOAD4;
    return l;
}

static bool copy_batch(BenchLimit *l, uint64_t iters)
{
    for (uint64_t i = 0; i < iters; i++) {
        memcpy(l->buf, l->src, l->bytes);
        __asm__ volatile("" : : "r"(l->buf) : "memory");
    }
    return true;
}

/* One 4-byte load per operation: the cost of a mmapped register read. */
static bool load4_batch(BenchLimit *l, uint64_t iters)
{
    uint32_t sum = 0;

    for (uint64_t i = 0; i < iters; i++) {
        uint32_t v;

        memcpy(&v, l->src + ((i * 4) & 0xffc), 4);
        sum += v;
        __asm__ volatile("" : "+r"(sum) : : "memory");
    }
    return true;
}

/* ---- pread / pwrite ---- */

static bool limit_file_mem(BenchLimit *l, const char *kind, GError **errp)
{
    int prot = PROT_READ | PROT_WRITE;

    if (!strcmp(kind, "memfd")) {
        l->fd = memfd_create("vfu-bench-limit", MFD_CLOEXEC);
        if (l->fd < 0 || ftruncate(l->fd, LIMIT_MEM_SIZE) < 0) {
            return vfio_user_error_set(errp, errno, "memfd: %s",
                                       g_strerror(errno));
        }
        l->mem = mmap(NULL, LIMIT_MEM_SIZE, prot, MAP_SHARED, l->fd, 0);
    } else {
        l->fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
        if (l->fd < 0) {
            return vfio_user_error_set(errp, errno, "/proc/self/mem: %s",
                                       g_strerror(errno));
        }
        l->mem = mmap(NULL, LIMIT_MEM_SIZE, prot, MAP_PRIVATE | MAP_ANONYMOUS,
                      -1, 0);
        l->off = (off_t)(uintptr_t)l->mem;
    }
    if (l->mem == MAP_FAILED) {
        l->mem = NULL;
        return vfio_user_error_set(errp, errno, "mmap: %s", g_strerror(errno));
    }
    memset(l->mem, 0x33, LIMIT_MEM_SIZE);
    return true;
}

BenchLimit *bench_limit_file(const char *kind, bool is_write, uint64_t size,
                             int cpu, GError **errp)
{
    BenchLimit *l = limit_new(LIMIT_FILE, size, cpu);

    l->is_write = is_write;
    if (!limit_file_mem(l, kind, errp)) {
        bench_limit_free(l);
        return NULL;
    }
    return l;
}

static bool file_batch(BenchLimit *l, uint64_t iters, GError **errp)
{
    for (uint64_t i = 0; i < iters; i++) {
        ssize_t n = l->is_write ? pwrite(l->fd, l->buf, l->bytes, l->off)
                                : pread(l->fd, l->buf, l->bytes, l->off);

        if (n != (ssize_t)l->bytes) {
            return vfio_user_error_set(errp, n < 0 ? errno : EIO, "%s: %s",
                                       l->is_write ? "pwrite" : "pread",
                                       n < 0 ? g_strerror(errno) : "short");
        }
    }
    return true;
}

/* ---- AF_UNIX between two processes ---- */

enum {
    PEER_PINGPONG = 1,
    PEER_STREAM = 2,
    PEER_ONEWAY = 3,
    PEER_PINGPONG_WAIT = 4, /* receives as the server library does */
};
#define PEER_PINGPONG_MAX 64 /* largest ping-pong message */

typedef struct PeerCmd {
    uint32_t op;
    uint32_t len; /* bytes per message (at most PEER_PINGPONG_MAX) */
    uint64_t count;
} PeerCmd;

static bool io_all(int fd, void *buf, size_t len, bool is_write)
{
    uint8_t *p = buf;

    while (len) {
        ssize_t n =
            is_write ? send(fd, p, len, MSG_NOSIGNAL) : recv(fd, p, len, 0);

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

/*
 * Receive @len bytes as both libraries do: recvmsg() with room for fds
 * (closed: none are sent here).  On a socket with SO_RCVTIMEO this is
 * the client's wait for a reply; without, the server's wait between
 * messages.
 */
static bool recv_as_library(int fd, void *buf, size_t len)
{
    uint8_t *p = buf;

    while (len) {
        union {
            char buf[CMSG_SPACE(sizeof(int) * VFIO_USER_MAX_FDS)];
            struct cmsghdr align;
        } ctl;
        struct iovec iov = {.iov_base = p, .iov_len = len};
        struct msghdr msg = {
            .msg_iov = &iov,
            .msg_iovlen = 1,
            .msg_control = ctl.buf,
            .msg_controllen = sizeof(ctl.buf),
        };
        ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c;
             c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                vfio_user_close_fds((int *)CMSG_DATA(c),
                                    (c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            }
        }
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/*
 * One-way: take count * len bytes as they come (as many messages per
 * recv() as have arrived, like a server's buffered read), then answer one
 * byte so that the sender knows all arrived.
 */
static bool peer_oneway(int fd, uint8_t *big, const PeerCmd *cmd)
{
    uint64_t left = cmd->count * cmd->len;
    uint8_t ack = 1;

    while (left) {
        ssize_t n = recv(fd, big, MIN(left, 64 * KiB), 0);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        left -= (uint64_t)n;
    }
    return io_all(fd, &ack, 1, true);
}

/* The peer process: answers ping-pongs and streams on request. */
static int peer_main(int fd, int cpu)
{
    uint8_t *big = g_malloc0(1 * MiB);
    uint8_t small[PEER_PINGPONG_MAX];
    PeerCmd cmd;

    bench_pin(cpu);
    while (io_all(fd, &cmd, sizeof(cmd), false)) {
        if (cmd.op == PEER_ONEWAY) {
            if (!peer_oneway(fd, big, &cmd)) {
                return 1;
            }
            continue;
        }
        for (uint64_t i = 0; i < cmd.count; i++) {
            bool ping = cmd.op == PEER_PINGPONG || cmd.op == PEER_PINGPONG_WAIT;

            if (ping && (cmd.len > sizeof(small) ||
                         !(cmd.op == PEER_PINGPONG
                               ? io_all(fd, small, cmd.len, false)
                               : recv_as_library(fd, small, cmd.len)) ||
                         !io_all(fd, small, cmd.len, true))) {
                return 1;
            }
            if (!ping && !io_all(fd, big, 1 * MiB, true)) {
                return 1;
            }
        }
    }
    return 0;
}

static bool peer_start(Peer *p, int cpu, GError **errp)
{
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        return vfio_user_error_set(errp, errno, "socketpair: %s",
                                   g_strerror(errno));
    }
    fflush(NULL);
    p->pid = fork();
    if (p->pid < 0) {
        close(sv[0]);
        close(sv[1]);
        return vfio_user_error_set(errp, errno, "fork: %s", g_strerror(errno));
    }
    if (p->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (dup2(sv[1], 3) < 0) {
            _exit(1);
        }
        close_range(4, ~0u, 0);
        _exit(peer_main(3, cpu));
    }
    close(sv[1]);
    p->fd = sv[0];
    return true;
}

BenchLimit *bench_limit_socket(bool stream, int peer_cpu, GError **errp)
{
    BenchLimit *l = limit_new(stream ? LIMIT_STREAM : LIMIT_PINGPONG,
                              stream ? 1 * MiB : 16, -1);

    if (!peer_start(&l->peer, peer_cpu, errp)) {
        bench_limit_free(l);
        return NULL;
    }
    return l;
}

BenchLimit *bench_limit_pingpong(uint64_t msg_bytes, int peer_cpu,
                                 GError **errp)
{
    BenchLimit *l = limit_new(LIMIT_PINGPONG, msg_bytes, -1);

    g_assert(msg_bytes <= PEER_PINGPONG_MAX);
    if (!peer_start(&l->peer, peer_cpu, errp)) {
        bench_limit_free(l);
        return NULL;
    }
    return l;
}

BenchLimit *bench_limit_pingpong_wait(uint64_t msg_bytes, int peer_cpu,
                                      GError **errp)
{
    BenchLimit *l = limit_new(LIMIT_PINGPONG_WAIT, msg_bytes, -1);
    struct timeval tv = {.tv_sec = 10}; /* any bound arms a timer */

    g_assert(msg_bytes <= PEER_PINGPONG_MAX);
    if (!peer_start(&l->peer, peer_cpu, errp)) {
        bench_limit_free(l);
        return NULL;
    }
    if (setsockopt(l->peer.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
        vfio_user_error_set(errp, errno, "SO_RCVTIMEO: %s", g_strerror(errno));
        bench_limit_free(l);
        return NULL;
    }
    return l;
}

BenchLimit *bench_limit_oneway(uint64_t msg_bytes, int peer_cpu, GError **errp)
{
    BenchLimit *l = limit_new(LIMIT_ONEWAY, msg_bytes, -1);

    if (!peer_start(&l->peer, peer_cpu, errp)) {
        bench_limit_free(l);
        return NULL;
    }
    return l;
}

/* @iters messages of l->bytes, one send() each, until all have arrived. */
static bool oneway_batch(BenchLimit *l, uint64_t iters, GError **errp)
{
    PeerCmd cmd = {.op = PEER_ONEWAY, .len = l->bytes, .count = iters};
    uint8_t ack;

    if (!io_all(l->peer.fd, &cmd, sizeof(cmd), true)) {
        return vfio_user_error_set(errp, EPIPE, "one-way peer went away");
    }
    for (uint64_t i = 0; i < iters; i++) {
        if (!io_all(l->peer.fd, l->buf, l->bytes, true)) {
            return vfio_user_error_set(errp, EPIPE, "one-way peer went away");
        }
    }
    if (!io_all(l->peer.fd, &ack, 1, false)) {
        return vfio_user_error_set(errp, EPIPE, "one-way peer went away");
    }
    return true;
}

static bool pingpong_batch(BenchLimit *l, uint64_t iters, GError **errp)
{
    bool lib = l->kind == LIMIT_PINGPONG_WAIT;
    PeerCmd cmd = {.op = lib ? PEER_PINGPONG_WAIT : PEER_PINGPONG,
                   .len = l->bytes,
                   .count = iters};

    if (!io_all(l->peer.fd, &cmd, sizeof(cmd), true)) {
        return vfio_user_error_set(errp, EPIPE, "ping-pong peer went away");
    }
    for (uint64_t i = 0; i < iters; i++) {
        if (!io_all(l->peer.fd, l->buf, l->bytes, true) ||
            !(lib ? recv_as_library(l->peer.fd, l->buf, l->bytes)
                  : io_all(l->peer.fd, l->buf, l->bytes, false))) {
            return vfio_user_error_set(errp, EPIPE, "ping-pong peer went away");
        }
    }
    return true;
}

static bool stream_batch(BenchLimit *l, uint64_t iters, GError **errp)
{
    PeerCmd cmd = {.op = PEER_STREAM, .count = iters};

    if (!io_all(l->peer.fd, &cmd, sizeof(cmd), true)) {
        return vfio_user_error_set(errp, EPIPE, "streaming peer went away");
    }
    for (uint64_t i = 0; i < iters; i++) {
        if (!io_all(l->peer.fd, l->buf, 1 * MiB, false)) {
            return vfio_user_error_set(errp, EPIPE, "streaming peer went away");
        }
    }
    return true;
}

/* ---- the common batch function ---- */

static bool limit_run(BenchLimit *l, uint64_t iters, GError **errp)
{
    switch (l->kind) {
    case LIMIT_MEMCPY:
        return copy_batch(l, iters);
    case LIMIT_LOAD4:
        return load4_batch(l, iters);
    case LIMIT_FILE:
        return file_batch(l, iters, errp);
    case LIMIT_PINGPONG:
    case LIMIT_PINGPONG_WAIT:
        return pingpong_batch(l, iters, errp);
    case LIMIT_STREAM:
        return stream_batch(l, iters, errp);
    case LIMIT_ONEWAY:
        return oneway_batch(l, iters, errp);
    }
    return vfio_user_error_set(errp, EINVAL, "unknown limit");
}

bool bench_limit_batch(void *opaque, uint64_t iters, double *ns, GError **errp)
{
    BenchLimit *l = opaque;
    cpu_set_t saved;
    bool pinned =
        l->cpu >= 0 && sched_getaffinity(0, sizeof(saved), &saved) == 0;
    uint64_t t0;
    bool ok;

    if (pinned) {
        bench_pin(l->cpu);
    }
    t0 = bench_now_ns();
    ok = limit_run(l, iters, errp);
    *ns = (double)(bench_now_ns() - t0);
    if (pinned) {
        sched_setaffinity(0, sizeof(saved), &saved);
    }
    return ok;
}

uint64_t bench_limit_bytes(BenchLimit *l)
{
    return l->bytes;
}

void bench_limit_free(BenchLimit *l)
{
    if (!l) {
        return;
    }
    if (l->peer.fd >= 0) {
        close(l->peer.fd);
    }
    if (l->peer.pid > 0) {
        waitpid(l->peer.pid, NULL, 0);
    }
    if (l->mem) {
        munmap(l->mem, LIMIT_MEM_SIZE);
    }
    if (l->fd >= 0) {
        close(l->fd);
    }
    g_free(l->src);
    g_free(l->buf);
    g_free(l);
}

/* ---- the limits section ---- */

/* Measure @l and add it as @key; takes @l. */
static void limit_figure(BenchLimit *l, const char *key, const char *label,
                         bool latency)
{
    g_autoptr(GError) err = NULL;
    double ns;

    if (!bench_measure(bench_limit_batch, l, UINT64_MAX, &ns, &err)) {
        bench_add_error("limits", label, err);
    } else if (latency) {
        bench_add("limits", key, label, "ns/op", ns, NULL);
    } else {
        bench_add("limits", key, label, "MiB/s",
                  bench_mib_s(bench_limit_bytes(l), ns), NULL);
    }
    bench_limit_free(l);
}

static void limits_socket(BenchPlacement pl)
{
    const char *pn = bench_placement_name(pl);
    g_autoptr(GError) err = NULL;

    bench_pin(bench_placement_client_cpu(pl));
    for (int stream = 0; stream < 2; stream++) {
        g_autofree char *key = g_strdup_printf(
            "limit.%s.%s", stream ? "sock_stream" : "sock_rtt", pn);
        g_autofree char *label =
            g_strdup_printf(stream ? "socket streaming 1 MiB (%s)"
                                   : "socket 16 B round trip (%s)",
                            pn);
        BenchLimit *l =
            bench_limit_socket(stream, bench_placement_server_cpu(pl), &err);

        if (!l) {
            bench_add_error("limits", label, err);
            g_clear_error(&err);
            continue;
        }
        limit_figure(l, key, label, !stream);
    }
    {
        g_autofree char *key = g_strdup_printf("limit.sock_oneway.%s", pn);
        g_autofree char *label = g_strdup_printf("socket one-way %u B (%s)",
                                                 BENCH_POSTED_MSG_BYTES, pn);
        BenchLimit *l = bench_limit_oneway(
            BENCH_POSTED_MSG_BYTES, bench_placement_server_cpu(pl), &err);

        if (!l) {
            bench_add_error("limits", label, err);
        } else {
            limit_figure(l, key, label, true);
        }
    }
    bench_pin(-1);
}

static void limits_files(int cpu)
{
    static const char *const kinds[] = {"memfd", "procmem"};
    g_autoptr(GError) err = NULL;

    for (size_t k = 0; k < G_N_ELEMENTS(kinds); k++) {
        for (int w = 0; w < 2; w++) {
            for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
                const char *op = w ? "pwrite" : "pread";
                g_autofree char *key = g_strdup_printf("limit.%s.%s.%" PRIu64,
                                                       kinds[k], op, sizes[i]);
                g_autofree char *label = g_strdup_printf(
                    "%s %s %s", kinds[k], op, bench_size_name(sizes[i]));
                BenchLimit *l =
                    bench_limit_file(kinds[k], w, sizes[i], cpu, &err);

                if (!l) {
                    bench_add_error("limits", label, err);
                    g_clear_error(&err);
                    continue;
                }
                limit_figure(l, key, label, false);
            }
        }
    }
}

void bench_limits(void)
{
    /* In-process limits run where the DMA server runs. */
    int cpu = bench_placement_available(BENCH_SPLIT_CPU)
                  ? bench_placement_server_cpu(BENCH_SPLIT_CPU)
                  : bench_cfg.cpu_a;

    for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
        g_autofree char *key =
            g_strdup_printf("limit.memcpy.%" PRIu64, sizes[i]);
        g_autofree char *label =
            g_strdup_printf("memcpy %s", bench_size_name(sizes[i]));

        limit_figure(bench_limit_memcpy(sizes[i], cpu), key, label, false);
    }
    limit_figure(bench_limit_load4(cpu), "limit.load4", "4-byte memory load",
                 true);
    for (int p = BENCH_SAME_CPU; p <= BENCH_SPLIT_CPU; p++) {
        if (bench_placement_available(p)) {
            limits_socket(p);
        }
    }
    limits_files(cpu);
}
