/*
 * qtest of run-time device_add / device_del with the real sample server
 * over a real socket: a hot-plugged edu works like one of the command
 * line (config, BAR, DMA both ways, INTx, MSI), addr= picks the slot and
 * its BAR goes where no other device's is, a taken slot, a taken id and
 * bad specs are refused with the spec as typed in front, once, and 1,000
 * device_del + device_add cycles leave the VMM's fd count and RSS flat.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <inttypes.h>
#include <string.h>
#include <linux/pci_regs.h>
#include "libqtest.h"
#include "edu-machine.h"
#include "system/machine.h"

#define HP_CYCLES 1000
#define HP_WARMUP 100
/* RSS may grow this much over the cycles after warm-up (allocator
 * slack); a leak of 1 KiB a cycle would exceed it. */
#define HP_RSS_SLACK_KB 512

typedef struct HpMachine {
    EduMachine edu; /* qts; bar0 of the device in slot 1 */
    char *dir;      /* the pid file */
    GPid pid;
} HpMachine;

static HpMachine *hp_start(const char *backend, const char *devices)
{
    HpMachine *h = g_new0(HpMachine, 1);
    g_autofree char *pidfile = NULL;
    g_autofree char *text = NULL;

    h->dir = qtest_make_tmpdir();
    pidfile = g_strdup_printf("%s/vmm.pid", h->dir);
    h->edu.qts = qtest_init(
        "-m 64M -object memory-backend-%s,id=ram0,size=64M -machine memory-backend=ram0 -pidfile %s %s",
        backend, pidfile, devices ? devices : "");
    g_assert_true(g_file_get_contents(pidfile, &text, NULL, NULL));
    h->pid = (GPid)g_ascii_strtoll(text, NULL, 10);
    g_assert_cmpint(h->pid, >, 0);
    return h;
}

static void hp_stop(HpMachine *h)
{
    qtest_quit(h->edu.qts);
    qtest_cleanup_tmpdir(h->dir);
    g_free(h);
}

/* device_add @spec must succeed (the monitor prints nothing). */
static void hp_add(HpMachine *h, const char *spec)
{
    g_autofree char *out = qtest_hmp(h->edu.qts, "device_add %s", spec);

    g_assert_cmpstr(out, ==, "");
}

/* device_add @spec must fail with "@spec: @cause", the spec once. */
static void hp_add_fails(HpMachine *h, const char *spec, const char *cause)
{
    g_autofree char *out = qtest_hmp(h->edu.qts, "device_add %s", spec);
    g_autofree char *want = g_strdup_printf("%s: %s", spec, cause);

    g_test_message("device_add %s -> %s", spec, out);
    g_assert_true(g_str_has_prefix(out, want));
    g_assert_null(strstr(out + strlen(spec), spec));
}

static void hp_del(HpMachine *h, const char *id)
{
    g_autofree char *out = qtest_hmp(h->edu.qts, "device_del %s", id);

    g_assert_cmpstr(out, ==, "");
}

/* The edu in @slot is there, decodes, masters, and has its line. */
static uint64_t hp_check_plugged(HpMachine *h, int slot)
{
    QTestState *qts = h->edu.qts;
    uint16_t cmd = qpci_config_readw(qts, slot, PCI_COMMAND);
    uint64_t size = 0, bar0;

    g_assert_cmphex(qpci_config_readw(qts, slot, PCI_VENDOR_ID), ==, 0x1234);
    g_assert_cmphex(qpci_config_readw(qts, slot, PCI_DEVICE_ID), ==, 0x11e8);
    g_assert_true(cmd & PCI_COMMAND_MEMORY);
    g_assert_true(cmd & PCI_COMMAND_MASTER);
    g_assert_cmpuint(qpci_config_readb(qts, slot, PCI_INTERRUPT_LINE), ==,
                     VMM_INTX_BASE + (slot + 1 - 1) % 4);
    bar0 = qpci_bar_addr(qts, slot, 0, &size);
    g_assert_cmphex(size, ==, EDU_BAR0_SIZE);
    g_assert_cmphex(bar0, >=, VMM_MMIO32_BASE);
    g_assert_cmphex(bar0 & (size - 1), ==, 0);
    g_assert_cmphex(qtest_readl(qts, bar0), ==, EDU_ID);
    return bar0;
}

/* Hot-plugged into the first free slot (1): everything works. */
static void test_hotplug_works(gconstpointer opaque)
{
    const char *backend = opaque;
    QTestServer *srv = qtest_server_start("edu", NULL);
    HpMachine *h = hp_start(backend, NULL);
    g_autofree char *spec = g_strdup_printf("vfio-user-pci,socket=%s,id=edu0",
                                            qtest_server_socket(srv));

    g_assert_cmphex(qpci_config_readw(h->edu.qts, EDU_SLOT, 0), ==, 0xffff);
    hp_add(h, spec);
    h->edu.bar0 = hp_check_plugged(h, EDU_SLOT);
    edu_check_registers(&h->edu);
    edu_check_dma(&h->edu, 256 * 1024, 0x100000, 0x800000);
    edu_check_intx(&h->edu);
    edu_check_msi(&h->edu);
    hp_del(h, "edu0");
    g_assert_cmphex(qpci_config_readw(h->edu.qts, EDU_SLOT, 0), ==, 0xffff);
    hp_stop(h);
    qtest_server_free(srv);
}

/*
 * addr= and the JSON form: next to a command-line device, the new BAR
 * goes where the other is not, and both work; a second add into the
 * taken slot names its occupant and leaves it alone.
 */
static void test_hotplug_addr(void)
{
    QTestServer *a = qtest_server_start("edu", NULL);
    QTestServer *b = qtest_server_start("edu", NULL);
    g_autofree char *first = g_strdup_printf(
        "-device vfio-user-pci,socket=%s,id=edu0", qtest_server_socket(a));
    HpMachine *h = hp_start("memfd", first);
    g_autofree char *json = g_strdup_printf(
        "{\"driver\":\"vfio-user-pci\",\"id\":\"edu5\",\"addr\":\"0x5\",\"socket\":{\"type\":\"unix\",\"path\":\"%s\"}}",
        qtest_server_socket(b));
    g_autofree char *busy = g_strdup_printf(
        "vfio-user-pci,socket=%s,id=other,addr=5", qtest_server_socket(a));
    uint64_t bar_a = hp_check_plugged(h, EDU_SLOT), bar_b;
    EduMachine e5 = {.qts = h->edu.qts};

    hp_add(h, json);
    bar_b = hp_check_plugged(h, 5);
    g_assert_true(bar_b >= bar_a + EDU_BAR0_SIZE ||
                  bar_a >= bar_b + EDU_BAR0_SIZE);
    hp_add_fails(h, busy, "PCI slot 0x5 is already in use by 'edu5'");
    e5.bar0 = bar_b;
    edu_check_registers(&e5);
    edu_check_dma(&e5, 64 * 1024, 0x100000, 0x200000);
    h->edu.bar0 = bar_a;
    edu_check_dma(&h->edu, 64 * 1024, 0x300000, 0x400000);
    g_assert_cmphex(hp_check_plugged(h, 5), ==, bar_b);
    hp_stop(h);
    qtest_server_free(b);
    qtest_server_free(a);
}

/* A taken id, bad specs: refused, named, nothing plugged. */
static void test_hotplug_refused(void)
{
    QTestServer *srv = qtest_server_start("edu", NULL);
    g_autofree char *first = g_strdup_printf(
        "-device vfio-user-pci,socket=%s,id=edu0", qtest_server_socket(srv));
    HpMachine *h = hp_start("memfd", first);
    g_autofree char *dir = qtest_make_tmpdir();
    g_autofree char *dup = g_strdup_printf("vfio-user-pci,socket=%s,id=edu0",
                                           qtest_server_socket(srv));
    g_autofree char *gone =
        g_strdup_printf("vfio-user-pci,socket=%s/none.sock,id=x", dir);
    g_autofree char *out = NULL;

    hp_add_fails(h, dup, "duplicate device id 'edu0'");
    hp_add_fails(h, "vfio-user-pci,socket=/x,id=edu1,addr=0x1",
                 "PCI slot 0x1 is already in use by 'edu0'");
    hp_add_fails(h, "vfio-user-pci,sockett=/x", "unknown property 'sockett'");
    hp_add_fails(h, "e1000,id=n0", "unknown device type");
    hp_add_fails(h, "vfio-user-pci,id=n0", "socket=PATH is required");
    hp_add_fails(h, "vfio-user-pci,socket=/x,addr=0x20", "addr: expected");
    hp_add_fails(h, "vfio-user-pci,socket=/x,dma-access=fast", "dma-access:");
    hp_add_fails(h, "{\"driver\":\"vfio-user-pci\",", "");
    hp_add_fails(h, gone,
                 "cannot connect: no such file (is the server running?)");
    out = qtest_hmp(h->edu.qts, "device_add");
    g_assert_true(g_str_has_prefix(out, "usage: device_add"));
    g_free(out);
    out = qtest_hmp(h->edu.qts, "device_add vfio-user-pci,help");
    g_assert_nonnull(strstr(out, "socket"));
    /* nothing was plugged, the first device still works */
    for (int s = 2; s < 32; s++) {
        g_assert_cmphex(qpci_config_readw(h->edu.qts, s, 0), ==, 0xffff);
    }
    hp_check_plugged(h, EDU_SLOT);
    hp_stop(h);
    qtest_cleanup_tmpdir(g_steal_pointer(&dir));
    qtest_server_free(srv);
}

static unsigned hp_count_fds(GPid pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/fd", (int)pid);
    GDir *d = g_dir_open(path, 0, NULL);
    unsigned n = 0;

    g_assert_nonnull(d);
    while (g_dir_read_name(d)) {
        n++;
    }
    g_dir_close(d);
    return n;
}

static uint64_t hp_rss_kb(GPid pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/status", (int)pid);
    g_autofree char *text = NULL;
    const char *p;

    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    p = strstr(text, "VmRSS:");
    g_assert_nonnull(p);
    return g_ascii_strtoull(p + strlen("VmRSS:"), NULL, 10);
}

/*
 * AddressSanitizer keeps freed memory in a quarantine (up to 256 MiB) to
 * catch uses after free: RSS would measure the quarantine, not the VMM.
 * The VMM of the cycle test runs without one (the others keep it).
 */
static char *hp_asan_no_quarantine(void)
{
    const char *old = g_getenv("ASAN_OPTIONS");
    g_autofree char *opts = g_strdup_printf("%s%squarantine_size_mb=0",
                                            old ? old : "", old ? ":" : "");

    g_setenv("ASAN_OPTIONS", opts, true);
    return g_strdup(old);
}

static void hp_asan_restore(char *old)
{
    if (old) {
        g_setenv("ASAN_OPTIONS", old, true);
    } else {
        g_unsetenv("ASAN_OPTIONS");
    }
    g_free(old);
}

/* 1,000 device_del + device_add: fds exactly flat, RSS within slack. */
static void test_hotplug_cycle(void)
{
    QTestServer *srv = qtest_server_start("edu", NULL);
    char *asan = hp_asan_no_quarantine();
    HpMachine *h = hp_start("memfd", NULL);
    g_autofree char *spec = g_strdup_printf("vfio-user-pci,socket=%s,id=edu0",
                                            qtest_server_socket(srv));
    unsigned fds0 = 0;
    uint64_t rss0 = 0, rss = 0;
    gint64 t0 = g_get_monotonic_time();

    hp_add(h, spec);
    for (unsigned i = 1; i <= HP_CYCLES; i++) {
        hp_del(h, "edu0");
        hp_add(h, spec);
        g_assert_cmphex(qpci_config_readw(h->edu.qts, EDU_SLOT, 0), ==, 0x1234);
        if (i == HP_WARMUP) {
            fds0 = hp_count_fds(h->pid);
            rss0 = hp_rss_kb(h->pid);
        } else if (i > HP_WARMUP && i % 100 == 0) {
            g_assert_cmpuint(hp_count_fds(h->pid), ==, fds0);
            rss = hp_rss_kb(h->pid);
            g_test_message("cycle %u: %u fds, RSS %" PRIu64 " kB", i, fds0,
                           rss);
        }
    }
    g_test_message("%u cycles in %.2f s; RSS %" PRIu64 " -> %" PRIu64 " kB",
                   HP_CYCLES, (g_get_monotonic_time() - t0) / 1e6, rss0, rss);
    g_assert_cmpuint(rss, <=, rss0 + HP_RSS_SLACK_KB);
    h->edu.bar0 = hp_check_plugged(h, EDU_SLOT);
    edu_check_dma(&h->edu, 64 * 1024, 0x100000, 0x200000);
    hp_stop(h);
    hp_asan_restore(asan);
    qtest_server_free(srv);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_data_func("/hotplug/works/memfd", "memfd", test_hotplug_works);
    g_test_add_data_func("/hotplug/works/ram", "ram", test_hotplug_works);
    g_test_add_func("/hotplug/addr", test_hotplug_addr);
    g_test_add_func("/hotplug/refused", test_hotplug_refused);
    g_test_add_func("/hotplug/cycle", test_hotplug_cycle);
    return g_test_run();
}
