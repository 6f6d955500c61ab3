/*
 * qtest of vfio-user-pci with the sample edu server: for every guest RAM
 * backend and every dma-access value that applies, enumerate the device,
 * use its registers, run DMA both ways, take INTx and MSI interrupts and
 * check that `info vfio-user` reports the access mode the policy promises.
 * The same with RAM above 4 GiB, and DMA that leaves guest RAM.  Then the
 * edges: a server that predates access modes, a forced mode that cannot
 * be honoured, a server that dies (idle or with a request in flight) or
 * stops answering, hot-unplug, system_reset and two devices at once.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <linux/pci_regs.h>
#include "libqtest.h"
#include "edu-machine.h"
#include "system/machine.h"

typedef struct EduCase {
    const char *backend; /* "memfd", "file", "file-private", "ram" */
    const char *access;  /* dma-access= */
    const char *mode;    /* expected mode in info vfio-user */
    bool proc_self_mem;  /* expected "(/proc/self/mem)" */
} EduCase;

static const EduCase edu_cases[] = {
    {"memfd", "auto", "mmap", false},
    {"memfd", "mmap", "mmap", false},
    {"memfd", "file-io", "file-io", false},
    {"memfd", "message", "message", false},
    {"file", "auto", "mmap", false},
    {"file", "mmap", "mmap", false},
    {"file", "file-io", "file-io", false},
    {"file", "message", "message", false},
    {"file-private", "auto", "message", false},
    {"file-private", "file-io", "file-io", true},
    {"file-private", "message", "message", false},
    {"ram", "auto", "message", false},
    {"ram", "file-io", "file-io", true},
    {"ram", "message", "message", false},
};

/* Registers, DMA both ways, INTx, MSI, and the reported mode. */
static void test_edu_case(gconstpointer opaque)
{
    const EduCase *c = opaque;
    QTestServer *srv = qtest_server_start("edu", NULL);
    EduMachine *m = edu_machine_start(srv, c->backend, c->access, NULL);
    g_autofree char *map = NULL;
    uint64_t before_rd = 0, before_wr = 0, after_rd = 0, after_wr = 0;
    bool message = !strcmp(c->mode, "message");

    edu_check_identity(m);
    edu_check_registers(m);

    map = edu_info_map_line(m->qts, "ram0");
    edu_assert_map_mode(map, c->mode, c->proc_self_mem);
    edu_info_message_bytes(m->qts, &before_rd, &before_wr);
    edu_check_dma(m, 256 * 1024, 0x100000, 0x800000);
    edu_check_dma(m, 4096, 0x3ff000, 0x1000); /* edge of low pages */
    edu_info_message_bytes(m->qts, &after_rd, &after_wr);
    if (message) {
        /* the data really travelled as DMA_READ / DMA_WRITE */
        g_assert_cmpuint(after_rd - before_rd, >=, 256 * 1024 + 4096);
        g_assert_cmpuint(after_wr - before_wr, >=, 256 * 1024 + 4096);
    } else {
        g_assert_cmpuint(after_rd, ==, before_rd);
        g_assert_cmpuint(after_wr, ==, before_wr);
    }
    edu_check_intx(m);
    edu_check_msi(m);
    edu_check_intx(m); /* MSI off again: back to INTx */

    edu_machine_stop(m);
    qtest_server_free(srv);
}

static const EduCase edu_high_cases[] = {
    {"memfd", "auto", "mmap", false},
    {"file", "auto", "mmap", false},
    {"ram", "file-io", "file-io", true},
    {"ram", "message", "message", false},
};

#define EDU_HIGH_RAM 0x100000000ULL

/* 3 GiB of RAM: two sections, the second at 4 GiB, each mapped. */
static void test_edu_high_ram(gconstpointer opaque)
{
    const EduCase *c = opaque;
    QTestServer *srv = qtest_server_start("edu", NULL);
    EduMachine *m =
        edu_machine_start_sized(srv, c->backend, c->access, NULL, 3072);
    g_autofree char *low = edu_info_map_line_at(m->qts, "ram0", 0);
    g_autofree char *high = edu_info_map_line_at(m->qts, "ram0", EDU_HIGH_RAM);

    edu_assert_map_mode(low, c->mode, c->proc_self_mem);
    edu_assert_map_mode(high, c->mode, c->proc_self_mem);
    g_assert_nonnull(strstr(low, "size 0xb0000000 "));
    g_assert_nonnull(strstr(high, "size 0x10000000 "));
    edu_check_big_memory(m, EDU_HIGH_RAM + 0x100000, 9 * 1024 * 1024);
    edu_check_dma(m, 128 * 1024, EDU_HIGH_RAM + 0x10000, 0x1000000);
    edu_check_dma(m, 128 * 1024, 0x200000, EDU_HIGH_RAM + 0x8000000);
    /* the last bytes of each section */
    edu_check_dma(m, 4096, 0xb0000000 - 4096, EDU_HIGH_RAM + 0x10000000 - 4096);
    edu_machine_stop(m);
    qtest_server_free(srv);
}

/*
 * DMA that leaves guest RAM is refused (the edu flags an error), the
 * bytes around stay intact, and the device goes on working.
 */
static void test_edu_dma_outside(gconstpointer opaque)
{
    const EduCase *c = opaque;
    QTestServer *srv = qtest_server_start("edu", NULL);
    EduMachine *m = edu_machine_start(srv, c->backend, c->access, NULL);
    const uint64_t end = EDU_DEFAULT_RAM_MB << 20;
    g_autofree char *info = NULL;
    uint8_t before[256], after[256];

    qtest_memset(m->qts, end - sizeof(before), 0x6d, sizeof(before));
    /* device -> RAM across the end of RAM, RAM -> device from MMIO */
    g_assert_false(edu_dma_try(m, 0x40000, end - 0x800, 0x1000, 0x3));
    g_assert_false(edu_dma_try(m, 0xc0000000ULL, 0x40000, 0x100, 0x1));
    g_assert_false(edu_dma_try(m, 0xfffffffffffff000ULL, 0x40000, 0x2000, 0x1));
    qtest_memread(m->qts, end - sizeof(before), after, sizeof(after));
    memset(before, 0x6d, sizeof(before));
    if (!strcmp(c->mode, "message")) {
        /* the client checked the range itself: nothing written */
        g_assert_cmpmem(after, sizeof(after), before, sizeof(before));
    }
    info = qtest_hmp(m->qts, "info vfio-user");
    g_assert_nonnull(strstr(info, "state connected"));
    edu_check_identity(m);
    edu_check_dma(m, 64 * 1024, 0x100000, 0x300000);
    edu_machine_stop(m);
    qtest_server_free(srv);
}

/* A server that rejects the mode bits: the client falls back per map. */
static void test_edu_legacy_server(void)
{
    static const char *const backends[][2] = {
        {"memfd", "auto"},
        {"memfd", "file-io"},
        {"ram", "file-io"},
        {"ram", "auto"},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(backends); i++) {
        QTestServer *srv = qtest_server_start("edu", "--legacy-dma-map");
        EduMachine *m =
            edu_machine_start(srv, backends[i][0], backends[i][1], NULL);
        g_autofree char *info = qtest_hmp(m->qts, "info vfio-user");
        g_autofree char *map = edu_info_map_line(m->qts, "ram0");
        bool has_fd = !strcmp(backends[i][0], "memfd");

        g_test_message("legacy %s/%s: %s", backends[i][0], backends[i][1], map);
        /* with an mmappable fd: fd only (mmap); otherwise messages */
        edu_assert_map_mode(map, has_fd ? "mmap" : "message", false);
        if (strcmp(backends[i][1], "auto") != 0) {
            g_assert_nonnull(strstr(info, "fallback"));
        }
        if (strcmp(backends[i][1], "auto") != 0) {
            /* the VMM says so, once */
            g_assert_true(qtest_vmm_wait_stderr(
                m->qts,
                "vfio-user-pci 'edu0': server does not support DMA access modes; using legacy DMA_MAP\n",
                qtest_timeout_ms()));
        }
        edu_check_identity(m);
        edu_check_dma(m, 128 * 1024, 0x200000, 0x600000);
        edu_machine_stop(m);
        qtest_server_free(srv);
    }
}

/*
 * A device without id=: log lines name it as typed, once, and the socket
 * path appears only inside that name.
 */
static void test_edu_legacy_log_as_typed(void)
{
    QTestServer *srv = qtest_server_start("edu", "--legacy-dma-map");
    const char *sock = qtest_server_socket(srv);
    g_autofree char *arg =
        g_strdup_printf("vfio-user-pci,socket=%s,dma-access=file-io", sock);
    /* "vfio-user-dma-Message: TIME: ARG: ...": the name right after TIME */
    g_autofree char *want = g_strdup_printf(
        ": %s: server does not support DMA access modes; using legacy DMA_MAP\n",
        arg);
    QTestState *qts;

    qts = qtest_init(
        "-m 64M -object memory-backend-memfd,id=ram0,size=64M -machine memory-backend=ram0 -device %s",
        arg);
    g_assert_true(qtest_vmm_wait_stderr(qts, want, qtest_timeout_ms()));
    g_assert_cmpuint(qtest_vmm_stderr_count(qts, sock), ==,
                     qtest_vmm_stderr_count(qts, arg));
    qtest_quit(qts);
    qtest_server_free(srv);
}

/* dma-access=mmap cannot be honoured for anonymous RAM: start fails. */
static void test_edu_mmap_anon_fails(void)
{
    QTestServer *srv = qtest_server_start("edu", NULL);
    g_autofree char *err = NULL;
    int status = 0;
    QTestState *qts;

    qts = qtest_try_init(
        &err, &status,
        "-m 64M -object memory-backend-ram,id=ram0,size=64M -machine memory-backend=ram0 -device vfio-user-pci,socket=%s,id=edu0,dma-access=mmap",
        qtest_server_socket(srv));
    g_assert_null(qts);
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), !=, 0);
    g_test_message("VMM said: %s", err);
    g_assert_nonnull(strstr(err, "ram0")); /* the section */
    g_assert_nonnull(strstr(err, "mmap"));
    g_assert_nonnull(strstr(err, "edu0")); /* the device */
    qtest_server_free(srv);
}

/* The server dies: the VMM lives on, the device reads all-ones, quickly. */
static void test_edu_server_killed(void)
{
    QTestServer *srv = qtest_server_start("edu", NULL);
    EduMachine *m =
        edu_machine_start(srv, "memfd", "auto", "x-msg-timeout=30000");
    g_autofree char *info = NULL;
    gint64 t0;
    double elapsed;

    edu_check_identity(m);
    qtest_server_kill(srv);
    t0 = g_get_monotonic_time();
    g_assert_cmphex(qtest_readl(m->qts, m->bar0 + 0x00), ==, 0xffffffff);
    g_assert_cmphex(qtest_readl(m->qts, m->bar0 + 0x04), ==, 0xffffffff);
    qtest_writel(m->qts, m->bar0 + 0x08, 5); /* dropped, no hang */
    g_assert_cmphex(qtest_readl(m->qts, m->bar0 + 0x08), ==, 0xffffffff);
    elapsed = (g_get_monotonic_time() - t0) / 1e6;
    g_test_message("failed device answered in %.3f s", elapsed);
    g_assert_cmpfloat(elapsed, <, 5.0); /* timeout is 30 s */
    g_assert_true(qtest_vmm_running(m->qts));
    info = qtest_hmp(m->qts, "info vfio-user");
    g_assert_nonnull(strstr(info, "state failed"));
    /* the VMM reports it, naming the device */
    g_assert_true(qtest_vmm_wait_stderr(m->qts, "'edu0'", qtest_timeout_ms()));
    /* guest RAM and the rest of the machine still work */
    qtest_writel(m->qts, 0x1000, 0xcafef00d);
    g_assert_cmphex(qtest_readl(m->qts, 0x1000), ==, 0xcafef00d);
    edu_machine_stop(m);
    qtest_server_free(srv);
}

/*
 * The server dies while the VMM waits for its reply: the waiter is woken
 * at once by the hang-up, not by the 30 s message timeout.
 */
static void test_edu_server_dies_while_waiting(void)
{
    QTestServer *srv = qtest_server_start("edu", NULL);
    EduMachine *m =
        edu_machine_start(srv, "memfd", "auto", "x-msg-timeout=30000");
    g_autofree char *reply = NULL;
    g_autofree char *info = NULL;
    gint64 t0;
    double elapsed;

    edu_check_identity(m);
    qtest_server_signal(srv, SIGSTOP); /* requests now go unanswered */
    t0 = g_get_monotonic_time();
    qtest_command_send(m->qts, "readl 0x%" PRIx64, m->bar0 + 0x04);
    qtest_server_kill(srv);
    reply = qtest_command_recv(m->qts);
    elapsed = (g_get_monotonic_time() - t0) / 1e6;
    g_test_message("waiter woken after %.3f s", elapsed);
    g_assert_cmpstr(reply, ==, "OK 0x00000000ffffffff");
    g_assert_cmpfloat(elapsed, <, 5.0);
    info = qtest_hmp(m->qts, "info vfio-user");
    g_assert_nonnull(strstr(info, "state failed"));
    edu_machine_stop(m);
    qtest_server_free(srv);
}

/* A server that does not answer: the request times out, the VMM lives. */
static void test_edu_server_timeout(void)
{
    QTestServer *srv = qtest_server_start("edu", NULL);
    EduMachine *m =
        edu_machine_start(srv, "memfd", "auto", "x-msg-timeout=500");
    g_autofree char *info = NULL;
    gint64 t0;
    double elapsed;

    edu_check_identity(m);
    qtest_server_signal(srv, SIGSTOP);
    t0 = g_get_monotonic_time();
    g_assert_cmphex(qtest_readl(m->qts, m->bar0 + 0x04), ==, 0xffffffff);
    elapsed = (g_get_monotonic_time() - t0) / 1e6;
    g_test_message("request timed out after %.3f s", elapsed);
    g_assert_cmpfloat(elapsed, >=, 0.45);
    g_assert_cmpfloat(elapsed, <, 10.0);
    g_assert_true(qtest_vmm_running(m->qts));
    info = qtest_hmp(m->qts, "info vfio-user");
    g_assert_null(strstr(info, "timeouts 0 "));
    qtest_server_signal(srv, SIGCONT);
    /* guest RAM is still served by the machine itself */
    qtest_writel(m->qts, 0x2000, 0x12345678);
    g_assert_cmphex(qtest_readl(m->qts, 0x2000), ==, 0x12345678);
    edu_machine_stop(m);
    qtest_server_free(srv);
}

/* system_reset: DEVICE_RESET clears the edu, firmware runs again. */
static void test_edu_system_reset(void)
{
    QTestServer *srv = qtest_server_start("edu", NULL);
    EduMachine *m = edu_machine_start(srv, "ram", "auto", NULL);
    QTestState *qts = m->qts;
    uint8_t buf[64], zero[64] = {0};
    uint8_t cap;

    qtest_writel(qts, m->bar0 + 0x04, 0x1234);
    qtest_writel(qts, m->bar0 + 0x08, 5);
    qtest_memset(qts, m->bar0 + EDU_BUF, 0xaa, sizeof(buf));
    qpci_msi_enable(qts, EDU_SLOT, EDU_MSI_ADDR, 1);
    g_free(qtest_hmp(qts, "system_reset"));

    g_assert_cmphex(qpci_bar_addr(qts, EDU_SLOT, 0, NULL), ==, m->bar0);
    g_assert_true(qpci_config_readw(qts, EDU_SLOT, PCI_COMMAND) &
                  PCI_COMMAND_MEMORY);
    cap = qpci_find_capability(qts, EDU_SLOT, PCI_CAP_ID_MSI);
    g_assert_false(qpci_config_readw(qts, EDU_SLOT, cap + PCI_MSI_FLAGS) &
                   PCI_MSI_FLAGS_ENABLE);
    g_assert_cmphex(qtest_readl(qts, m->bar0 + 0x04), ==, 0);
    g_assert_cmphex(qtest_readl(qts, m->bar0 + 0x08), ==, 0);
    qtest_memread(qts, m->bar0 + EDU_BUF, buf, sizeof(buf));
    g_assert_cmpmem(buf, sizeof(buf), zero, sizeof(zero));
    /* DMA maps survive the reset */
    edu_check_dma(m, 8192, 0x100000, 0x200000);
    edu_check_intx(m);
    edu_machine_stop(m);
    qtest_server_free(srv);
}

/* Two devices, two servers, one RAM, two access modes side by side. */
static void test_edu_two_devices(void)
{
    QTestServer *srv1 = qtest_server_start("edu", NULL);
    QTestServer *srv2 = qtest_server_start("edu", NULL);
    EduMachine *m = g_new0(EduMachine, 1);
    g_autofree char *info = NULL;

    /* 01.0 by messages with another device id, 02.0 mmap */
    m->qts = qtest_init(
        "-m 64M -object memory-backend-memfd,id=ram0,size=64M -machine memory-backend=ram0 -device vfio-user-pci,socket=%s,id=a,dma-access=message,x-pci-device-id=0x11e9 -device vfio-user-pci,socket=%s,id=b",
        qtest_server_socket(srv1), qtest_server_socket(srv2));
    g_assert_cmphex(qpci_config_readw(m->qts, 1, PCI_DEVICE_ID), ==, 0x11e9);
    g_assert_cmphex(qpci_config_readw(m->qts, 2, PCI_DEVICE_ID), ==, 0x11e8);
    g_assert_cmpuint(qpci_config_readb(m->qts, 2, PCI_INTERRUPT_LINE), ==,
                     VMM_INTX_BASE + 2 % 4);
    info = qtest_hmp(m->qts, "info vfio-user");
    g_assert_nonnull(strstr(info, "a: vfio-user-pci at 00:01.0"));
    g_assert_nonnull(strstr(info, "b: vfio-user-pci at 00:02.0"));
    g_assert_nonnull(strstr(info, "mode message"));
    g_assert_nonnull(strstr(info, "mode mmap"));
    for (int slot = 1; slot <= 2; slot++) {
        m->bar0 = qpci_bar_addr(m->qts, slot, 0, NULL);
        edu_check_identity(m);
        edu_check_dma(m, 64 * 1024, 0x100000 * slot, 0x1000000 * slot);
    }
    edu_machine_stop(m);
    qtest_server_free(srv1);
    qtest_server_free(srv2);
}

/* device_del: the client disconnects and the server (--once) exits. */
static void test_edu_device_del(void)
{
    QTestServer *srv = qtest_server_start("edu", "--once");
    EduMachine *m = edu_machine_start(srv, "memfd", "auto", NULL);
    g_autofree char *out = NULL;
    g_autofree char *pci = NULL;
    int status = -1;

    edu_check_identity(m);
    out = qtest_hmp(m->qts, "device_del edu0");
    g_test_message("device_del: %s", out);
    g_assert_true(qtest_server_wait_exit(srv, qtest_timeout_ms(), &status));
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 0);
    g_assert_cmphex(qpci_config_readw(m->qts, 1, PCI_VENDOR_ID), ==, 0xffff);
    pci = qtest_hmp(m->qts, "info pci");
    g_assert_nonnull(strstr(pci, "Host bridge: PCI device 1b36:0008"));
    g_assert_null(strstr(pci, "PCI device 1234:11e8"));
    edu_machine_stop(m);
    qtest_server_free(srv);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(edu_cases); i++) {
        g_autofree char *path = g_strdup_printf(
            "/edu/%s/%s", edu_cases[i].backend, edu_cases[i].access);

        g_test_add_data_func(path, &edu_cases[i], test_edu_case);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(edu_high_cases); i++) {
        g_autofree char *path =
            g_strdup_printf("/edu/high-ram/%s/%s", edu_high_cases[i].backend,
                            edu_high_cases[i].access);

        g_test_add_data_func(path, &edu_high_cases[i], test_edu_high_ram);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(edu_cases); i++) {
        g_autofree char *path = NULL;

        if (g_str_has_prefix(edu_cases[i].backend, "file")) {
            continue; /* same client paths as memfd */
        }
        path = g_strdup_printf("/edu/dma-outside/%s/%s", edu_cases[i].backend,
                               edu_cases[i].access);
        g_test_add_data_func(path, &edu_cases[i], test_edu_dma_outside);
    }
    g_test_add_func("/edu/legacy-server", test_edu_legacy_server);
    g_test_add_func("/edu/legacy-server/log-as-typed",
                    test_edu_legacy_log_as_typed);
    g_test_add_func("/edu/mmap-anon-fails", test_edu_mmap_anon_fails);
    g_test_add_func("/edu/server-killed", test_edu_server_killed);
    g_test_add_func("/edu/server-dies-while-waiting",
                    test_edu_server_dies_while_waiting);
    g_test_add_func("/edu/server-timeout", test_edu_server_timeout);
    g_test_add_func("/edu/device-del", test_edu_device_del);
    g_test_add_func("/edu/system-reset", test_edu_system_reset);
    g_test_add_func("/edu/two-devices", test_edu_two_devices);
    return g_test_run();
}
