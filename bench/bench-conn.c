/*
 * vfu-bench connections: fork a server process (bench-server.c) on one end
 * of a socket pair, and connect the client library to the other end:
 * proxy, DMA container with the access-mode policy under test, device, and
 * guest RAM (a memfd or anonymous memory) mapped for DMA.
 *
 * Servers are forked before any client thread exists wherever possible;
 * each child closes every descriptor but its own socket, so that it sees
 * its client hang up even when other connections are open.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
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

#define BENCH_MSG_TIMEOUT_MS 60000

bool bench_child_spawn(BenchConn *c, BenchChildFn child, int cpu, GError **errp)
{
    int sv[2];

    *c = (BenchConn){.pid = -1, .sock = -1, .ram_fd = -1};
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        return vfio_user_error_set(errp, errno, "socketpair: %s",
                                   g_strerror(errno));
    }
    fflush(NULL);
    c->pid = fork();
    if (c->pid < 0) {
        close(sv[0]);
        close(sv[1]);
        return vfio_user_error_set(errp, errno, "fork: %s", g_strerror(errno));
    }
    if (c->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (dup2(sv[1], 3) < 0) {
            _exit(1);
        }
        close_range(4, ~0u, 0);
        _exit(child(3, cpu));
    }
    close(sv[1]);
    c->sock = sv[0];
    return true;
}

bool bench_server_spawn(BenchConn *c, int cpu, GError **errp)
{
    return bench_child_spawn(c, bench_server_main, cpu, errp);
}

static bool bench_ram_alloc(BenchConn *c, BenchRam ram, GError **errp)
{
    if (ram == BENCH_RAM_MEMFD) {
        c->ram_fd = memfd_create("vfu-bench-ram", MFD_CLOEXEC);
        if (c->ram_fd < 0 || ftruncate(c->ram_fd, BENCH_RAM_SIZE) < 0) {
            return vfio_user_error_set(errp, errno, "guest RAM memfd: %s",
                                       g_strerror(errno));
        }
        c->ram = mmap(NULL, BENCH_RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
                      c->ram_fd, 0);
    } else {
        c->ram = mmap(NULL, BENCH_RAM_SIZE, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    }
    if (c->ram == MAP_FAILED) {
        c->ram = NULL;
        return vfio_user_error_set(errp, errno, "guest RAM mmap: %s",
                                   g_strerror(errno));
    }
    memset(c->ram, 0, BENCH_RAM_SIZE); /* fault it in */
    return true;
}

bool bench_conn_connect(BenchConn *c, VFIOUserDMAAccess policy, BenchRam ram,
                        GError **errp)
{
    VFIOUserProxyOptions opts;
    VFIOUserDMASection s = {
        .name = "bench-ram",
        .iova = BENCH_RAM_IOVA,
        .size = BENCH_RAM_SIZE,
    };

    vfio_user_proxy_options_init(&opts);
    opts.msg_timeout_ms = BENCH_MSG_TIMEOUT_MS;
    c->proxy = vfio_user_proxy_new_from_fd(c->sock, &opts, errp);
    c->sock = -1;
    if (!c->proxy) {
        return false;
    }
    c->container = vfio_user_container_new(c->proxy, policy);
    if (!vfio_user_device_init(&c->dev, c->proxy, errp)) {
        return false;
    }
    c->dev_ok = true;
    if (ram == BENCH_RAM_NONE) {
        return true;
    }
    if (!bench_ram_alloc(c, ram, errp)) {
        return false;
    }
    s.host = c->ram;
    s.fd = c->ram_fd;
    return vfio_user_container_map(c->container, &s, errp);
}

bool bench_conn_open(BenchConn *c, int client_cpu, int server_cpu,
                     VFIOUserDMAAccess policy, BenchRam ram, GError **errp)
{
    bool ok;

    if (!bench_server_spawn(c, server_cpu, errp)) {
        return false;
    }
    /* The proxy's receive thread inherits the CPU of the main thread. */
    bench_pin(client_cpu);
    ok = bench_conn_connect(c, policy, ram, errp);
    if (!ok) {
        bench_conn_close(c);
    }
    return ok;
}

void bench_conn_close(BenchConn *c)
{
    if (c->dev_ok) {
        vfio_user_device_cleanup(&c->dev);
        c->dev_ok = false;
    }
    if (c->container) {
        vfio_user_container_free(c->container);
        c->container = NULL;
    }
    vfio_user_proxy_close(c->proxy);
    c->proxy = NULL;
    if (c->sock >= 0) {
        close(c->sock);
        c->sock = -1;
    }
    if (c->pid > 0) {
        waitpid(c->pid, NULL, 0);
        c->pid = -1;
    }
    if (c->ram) {
        munmap(c->ram, BENCH_RAM_SIZE);
        c->ram = NULL;
    }
    if (c->ram_fd >= 0) {
        close(c->ram_fd);
        c->ram_fd = -1;
    }
}

static bool bench_reg_read(BenchConn *c, unsigned off, void *buf, size_t len,
                           GError **errp)
{
    return vfio_user_region_read(&c->dev, VFIO_PCI_BAR0_REGION_INDEX, off, buf,
                                 len, errp);
}

uint64_t bench_conn_server_allocs(BenchConn *c, GError **errp)
{
    uint64_t v = 0;

    bench_reg_read(c, BENCH_REG_ALLOCS_NOW, &v, sizeof(v), errp);
    return v;
}

/* Set the guest RAM up so that the phase's result can be checked. */
static void bench_dma_prepare(BenchConn *c, const BenchDmaRun *run)
{
    if (run->is_write) {
        memset(c->ram, 0, run->len);
    } else {
        bench_fill(c->ram, run->len, run->seed);
    }
}

bool bench_conn_dma(BenchConn *c, BenchDmaRun *run, GError **errp)
{
    struct {
        uint64_t addr, len, count;
        uint32_t go, seed;
    } cmd = {
        .addr = BENCH_RAM_IOVA,
        .len = run->len,
        .count = run->count,
        .go = run->is_write ? BENCH_GO_WRITE : BENCH_GO_READ,
        .seed = run->seed,
    };
    struct {
        uint64_t ns, allocs, sum;
        uint32_t status;
    } res;

    G_STATIC_ASSERT(sizeof(cmd) == BENCH_REG_NS - BENCH_REG_ADDR);
    bench_dma_prepare(c, run);
    if (!vfio_user_region_write(&c->dev, VFIO_PCI_BAR0_REGION_INDEX,
                                BENCH_REG_SEGS, &run->segs, sizeof(run->segs),
                                false, errp) ||
        !vfio_user_region_write(&c->dev, VFIO_PCI_BAR0_REGION_INDEX,
                                BENCH_REG_ADDR, &cmd, sizeof(cmd), false,
                                errp) ||
        !bench_reg_read(c, BENCH_REG_NS, &res, 28, errp)) {
        return false;
    }
    if (res.status) {
        return vfio_user_error_set(
            errp, (int)res.status, "server DMA %s of %s failed: %s",
            run->is_write ? "write" : "read", bench_size_name(run->len),
            g_strerror((int)res.status));
    }
    if (res.sum != bench_checksum(c->ram, run->len)) {
        return vfio_user_error_set(
            errp, EIO,
            "DMA %s of %s: data differs between server and guest RAM",
            run->is_write ? "write" : "read", bench_size_name(run->len));
    }
    run->ns = res.ns;
    run->server_allocs = res.allocs;
    run->sum = res.sum;
    return true;
}
