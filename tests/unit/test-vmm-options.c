/*
 * Unit tests of vfio-user-vmm's command line parsing, memory backends and
 * guest address space (RAM, ECAM of the host bridge, holes, MSI window).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include "hw/pci/pci_host.h"
#include "hw/vfio-user/pci.h"
#include "system/machine.h"
#include "system/monitor.h"
#include "system/options.h"
#include "vmm-test-server.h"
#include "vfio-user/error.h"

/* Parse a NULL-terminated argument list (argv[0] added here). */
static bool parse(VmmOptions *o, GError **errp, ...)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    va_list ap;
    const char *a;

    g_ptr_array_add(argv, (char *)"vfio-user-vmm");
    va_start(ap, errp);
    while ((a = va_arg(ap, const char *))) {
        g_ptr_array_add(argv, (char *)a);
    }
    va_end(ap);
    vmm_options_init(o);
    return vmm_parse_args(o, argv->len, (char **)argv->pdata, errp);
}

/* Expect a parse failure whose message is exactly @msg. */
#define EXPECT_ERROR(msg, ...)                                                 \
    do {                                                                       \
        VmmOptions o_;                                                         \
        g_autoptr(GError) e_ = NULL;                                           \
        g_assert_false(parse(&o_, &e_, __VA_ARGS__, NULL));                    \
        g_assert_nonnull(e_);                                                  \
        g_assert_cmpstr(e_->message, ==, msg);                                 \
        vmm_options_clear(&o_);                                                \
    } while (0)

static void test_sizes(void)
{
    uint64_t v;

    g_assert_true(vmm_parse_size("64M", 1, &v));
    g_assert_cmpuint(v, ==, 64ULL << 20);
    g_assert_true(vmm_parse_size("2g", 1, &v));
    g_assert_cmpuint(v, ==, 2ULL << 30);
    g_assert_true(vmm_parse_size("512", 1ULL << 20, &v));
    g_assert_cmpuint(v, ==, 512ULL << 20);
    g_assert_true(vmm_parse_size("4096", 1, &v));
    g_assert_cmpuint(v, ==, 4096);
    g_assert_true(vmm_parse_size("0x1000K", 1, &v));
    g_assert_cmpuint(v, ==, 4ULL << 20);
    g_assert_false(vmm_parse_size("12Q", 1, &v));
    g_assert_false(vmm_parse_size("12MB", 1, &v));
    g_assert_false(vmm_parse_size("-1M", 1, &v));
    g_assert_false(vmm_parse_size("", 1, &v));
    g_assert_false(vmm_parse_size("99999999999T", 1, &v));
}

static void test_full_command_line(void)
{
    VmmOptions o;
    g_autoptr(GError) err = NULL;
    HostMemoryOptions *m;
    VFIOUserPCIOptions *d;

    g_assert_true(parse(
        &o, &err, "-m", "64M", "-object",
        "memory-backend-file,id=ram0,size=64M,mem-path=/tmp/a,,b,share=on,offset=2M",
        "-machine", "vfio-user-vmm,memory-backend=ram0", "-device",
        "vfio-user-pci,socket=/s1,id=edu0,dma-access=file-io,x-msg-timeout=250,x-poll-us=40,x-no-posted-writes=on,x-no-write-multi=on,x-pci-vendor-id=0x1af4,x-pci-sub-device-id=17,reconnect-ms=250",
        "--device", "vfio-user-pci,socket=/s2", "-qtest", "unix:/tmp/q.sock",
        "-monitor", "unix:/tmp/m.sock,server,nowait", "-D", "/tmp/log",
        "-pidfile", "/tmp/pid", NULL));
    g_assert_no_error(err);
    g_assert_null(o.print);
    g_assert_cmpuint(o.ram_size, ==, 64ULL << 20);
    g_assert_cmpuint(o.objects->len, ==, 1);
    m = g_ptr_array_index(o.objects, 0);
    g_assert_cmpint(m->type, ==, HOSTMEM_FILE);
    g_assert_cmpstr(m->mem_path, ==, "/tmp/a,b");
    g_assert_cmpuint(m->offset, ==, 2ULL << 20);
    g_assert_true(m->share_set && m->share);
    g_assert_cmpstr(o.machine_backend, ==, "ram0");
    g_assert_cmpuint(o.devices->len, ==, 2);
    d = g_ptr_array_index(o.devices, 0);
    g_assert_cmpstr(d->socket, ==, "/s1");
    g_assert_cmpstr(d->id, ==, "edu0");
    g_assert_cmpint(d->dma_access, ==, VFIO_USER_DMA_ACCESS_FILE_IO);
    g_assert_cmpuint(d->msg_timeout_ms, ==, 250);
    g_assert_cmpuint(d->poll_us, ==, 40);
    g_assert_cmpuint(d->reconnect_ms, ==, 250);
    g_assert_true(d->no_write_multi);
    g_assert_true(d->no_posted_writes);
    g_assert_cmpint(d->vendor_id, ==, 0x1af4);
    g_assert_cmpint(d->device_id, ==, -1);
    g_assert_cmpint(d->sub_device_id, ==, 17);
    d = g_ptr_array_index(o.devices, 1);
    g_assert_null(d->id);
    g_assert_cmpint(d->dma_access, ==, VFIO_USER_DMA_ACCESS_AUTO);
    g_assert_cmpuint(d->msg_timeout_ms, ==, 5000);
    g_assert_false(d->no_posted_writes);
    g_assert_cmpuint(d->reconnect_ms, ==, 0); /* off unless asked for */
    g_assert_false(o.qtest->is_stdio || o.qtest->server);
    g_assert_cmpstr(o.qtest->path, ==, "/tmp/q.sock");
    g_assert_true(o.monitor->server);
    g_assert_cmpstr(o.monitor->path, ==, "/tmp/m.sock");
    g_assert_cmpstr(o.logfile, ==, "/tmp/log");
    g_assert_cmpstr(o.pidfile, ==, "/tmp/pid");
    vmm_options_clear(&o);
}

static void test_defaults(void)
{
    VmmOptions o;

    g_assert_true(parse(&o, NULL, NULL));
    g_assert_cmpuint(o.ram_size, ==, VMM_DEFAULT_RAM_SIZE);
    g_assert_null(o.machine_backend);
    g_assert_null(o.qtest);
    vmm_options_clear(&o);
    /* The backend's size becomes the RAM size when -m is absent. */
    g_assert_true(parse(&o, NULL, "-object",
                        "memory-backend-memfd,id=r,size=32M", "-machine",
                        "memory-backend=r", NULL));
    g_assert_cmpuint(o.ram_size, ==, 32ULL << 20);
    vmm_options_clear(&o);
}

static void test_errors(void)
{
    EXPECT_ERROR(
        "-device vfio-user-pci: dma-access: expected auto, mmap, file-io or message, got 'foo'",
        "-device", "vfio-user-pci,socket=/s,dma-access=foo");
    EXPECT_ERROR(
        "-device vfio-user-pci: unknown property 'sockett' (see -device vfio-user-pci,help)",
        "-device", "vfio-user-pci,sockett=/s");
    EXPECT_ERROR("-device vfio-user-pci: socket=PATH is required", "-device",
                 "vfio-user-pci,id=a");
    EXPECT_ERROR(
        "-device vfio-user-pci: x-msg-timeout: expected milliseconds from 1 to 4294967295, got '0'",
        "-device", "vfio-user-pci,socket=/s,x-msg-timeout=0");
    EXPECT_ERROR(
        "-device vfio-user-pci: x-poll-us: expected microseconds from 0 to 1000000, got '2000000'",
        "-device", "vfio-user-pci,socket=/s,x-poll-us=2000000");
    EXPECT_ERROR(
        "-device vfio-user-pci: reconnect-ms: expected 0 to 3600000 ms, got '-1'",
        "-device", "vfio-user-pci,socket=/s,reconnect-ms=-1");
    EXPECT_ERROR(
        "-device vfio-user-pci: x-no-write-multi: expected on or off, got 'maybe'",
        "-device", "vfio-user-pci,socket=/s,x-no-write-multi=maybe");
    EXPECT_ERROR(
        "-device vfio-user-pci: x-pci-vendor-id: expected a number from 0 to 0xffff, got '0x10000'",
        "-device", "vfio-user-pci,socket=/s,x-pci-vendor-id=0x10000");
    EXPECT_ERROR(
        "-device vfio-user-pci: x-no-posted-writes: expected on or off, got 'maybe'",
        "-device", "vfio-user-pci,socket=/s,x-no-posted-writes=maybe");
    EXPECT_ERROR(
        "-device e1000: unknown device type (available: vfio-user-pci)",
        "-device", "e1000");
    EXPECT_ERROR("unknown option '-cpu' (see -help)", "-cpu", "max");
    EXPECT_ERROR("-m: missing argument", "-m");
    EXPECT_ERROR("-m: expected a size like 512M, got '1X'", "-m", "1X");
    EXPECT_ERROR(
        "-object memory-backend-memfd: size: expected a size like 64M, got 'big'",
        "-object", "memory-backend-memfd,id=a,size=big");
    EXPECT_ERROR("-object memory-backend-file: mem-path=PATH is required",
                 "-object", "memory-backend-file,id=a,size=1M");
    EXPECT_ERROR(
        "-object memory-backend-ram: offset: only memory-backend-file has it",
        "-object", "memory-backend-ram,id=a,size=1M,offset=4K");
    EXPECT_ERROR("-object memory-backend-ram: duplicate id 'a'", "-object",
                 "memory-backend-ram,id=a,size=1M", "-object",
                 "memory-backend-ram,id=a,size=1M");
    EXPECT_ERROR("-machine memory-backend=b: no -object with that id",
                 "-machine", "memory-backend=b");
    EXPECT_ERROR(
        "-machine memory-backend=a: backend size 1048576 differs from -m 2097152",
        "-m", "2M", "-object", "memory-backend-ram,id=a,size=1M", "-machine",
        "memory-backend=a");
    EXPECT_ERROR(
        "-machine: unknown machine type 'q35' (available: vfio-user-vmm)",
        "-machine", "q35");
    EXPECT_ERROR("-qtest: expected stdio or unix:PATH, got 'tcp:1'", "-qtest",
                 "tcp:1");
    EXPECT_ERROR("-qtest stdio and -monitor stdio cannot share standard input",
                 "-qtest", "stdio", "-monitor", "stdio");
    EXPECT_ERROR("-device: duplicate id 'x'", "-device",
                 "vfio-user-pci,socket=/a,id=x", "-device",
                 "vfio-user-pci,socket=/b,id=x");
    EXPECT_ERROR("unexpected argument 'foo' (see -help)", "foo");
}

static void test_help(void)
{
    VmmOptions o;

    g_assert_true(parse(&o, NULL, "-device", "vfio-user-pci,help", NULL));
    g_assert_nonnull(o.print);
    g_assert_nonnull(strstr(o.print->str, "dma-access"));
    g_assert_nonnull(strstr(o.print->str, "<auto|mmap|file-io|message>"));
    g_assert_nonnull(strstr(o.print->str, "(default: auto)"));
    g_assert_nonnull(strstr(o.print->str, "x-msg-timeout        <uint32>"));
    vmm_options_clear(&o);
    g_assert_true(parse(&o, NULL, "-version", NULL));
    g_assert_true(g_str_has_prefix(o.print->str, "vfio-user-vmm version "));
    vmm_options_clear(&o);
    g_assert_true(parse(&o, NULL, "-help", NULL));
    g_assert_nonnull(strstr(o.print->str, "-qtest stdio|unix:PATH"));
    vmm_options_clear(&o);
}

static Machine *make_machine(HostMemType type, const char *path,
                             uint64_t offset, bool share)
{
    HostMemoryOptions mo = {
        .type = type,
        .id = (char *)"ram0",
        .size = 1 << 20,
        .mem_path = (char *)path,
        .offset = offset,
        .share = share,
        .share_set = true,
    };
    g_autoptr(GError) err = NULL;
    HostMemoryBackend *b = host_memory_backend_new(&mo, &err);
    Machine *m;

    g_assert_no_error(err);
    m = machine_new(b, true, &err);
    g_assert_no_error(err);
    return m;
}

static void test_address_space(void)
{
    Machine *m = make_machine(HOSTMEM_RAM, NULL, 0, false);
    uint8_t buf[16];
    MSIRecord r;

    g_assert_cmpint(m->sections[0].fd, ==, -1);
    machine_stq(m, 0x1000, 0x1122334455667788ULL, 8);
    g_assert_cmpuint(machine_ldq(m, 0x1000, 8), ==, 0x1122334455667788ULL);
    g_assert_cmpuint(machine_ldq(m, 0x1004, 2), ==, 0x3344);
    /* Host bridge at 00.0 through ECAM; empty slots read all-ones. */
    g_assert_cmpuint(machine_ldq(m, VMM_ECAM_BASE, 4), ==, 0x00081b36);
    g_assert_cmpuint(machine_ldq(m, VMM_ECAM_BASE + 0xa, 2), ==, 0x0600);
    g_assert_cmpuint(
        machine_ldq(m, VMM_ECAM_BASE, 8), ==,
        0x0000000000081b36ULL |
            ((uint64_t)machine_ldq(m, VMM_ECAM_BASE + 4, 4) << 32));
    g_assert_cmpuint(machine_ldq(m, VMM_ECAM_BASE + (1 << 15), 4), ==,
                     0xffffffff);
    /* Beyond RAM and in the MMIO window without BARs: all-ones. */
    g_assert_cmpuint(machine_ldq(m, 1 << 20, 4), ==, 0xffffffff);
    g_assert_cmpuint(machine_ldq(m, VMM_MMIO32_BASE, 8), ==, UINT64_MAX);
    /* A read straddling the end of RAM: RAM bytes then all-ones. */
    machine_stq(m, (1 << 20) - 4, 0xa5a5a5a5, 4);
    machine_rw(m, (1 << 20) - 4, buf, 8, false);
    g_assert_cmpuint(buf[3], ==, 0xa5);
    g_assert_cmpuint(buf[4], ==, 0xff);
    /* MSI window: writes are recorded in order, reads return zero. */
    g_assert_false(machine_msi_pop(m, &r));
    machine_stq(m, VMM_MSI_BASE + 0x1000, 0x4041, 4);
    machine_stq(m, VMM_MSI_BASE, 7, 4);
    g_assert_cmpuint(machine_msi_pending(m), ==, 2);
    g_assert_cmpuint(machine_ldq(m, VMM_MSI_BASE, 4), ==, 0);
    g_assert_true(machine_msi_pop(m, &r));
    g_assert_cmpuint(r.addr, ==, VMM_MSI_BASE + 0x1000);
    g_assert_cmpuint(r.data, ==, 0x4041);
    g_assert_true(machine_msi_pop(m, &r));
    g_assert_cmpuint(r.data, ==, 7);
    g_assert_false(machine_msi_pop(m, &r));
    machine_free(m);
}

static void test_file_backend_offset(void)
{
    g_autofree char *dir = g_dir_make_tmp("vmm-test-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "ram", NULL);
    Machine *m = make_machine(HOSTMEM_FILE, path, 8192, true);
    uint64_t off, val = 0;
    int fd;

    g_assert_cmpint(m->sections[0].fd, >=, 0);
    g_assert_cmpuint(m->sections[0].fd_offset, ==, 8192);
    machine_stq(m, 0x10, 0xfeedfacecafef00dULL, 8);
    fd = open(path, O_RDONLY);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(pread(fd, &val, 8, 8192 + 0x10), ==, 8);
    g_assert_cmpuint(val, ==, 0xfeedfacecafef00dULL);
    g_assert_cmpint(lseek(fd, 0, SEEK_END), ==, 8192 + (1 << 20));
    close(fd);
    g_assert_cmpint(host_memory_backend_share_fd(m->ram, &off), >=, 0);
    machine_free(m);
    /* share=off: private mapping, so no fd is offered to devices. */
    m = make_machine(HOSTMEM_FILE, path, 0, false);
    g_assert_cmpint(m->sections[0].fd, ==, -1);
    machine_free(m);
    unlink(path);
    rmdir(dir);
}

static void test_backend_errors(void)
{
    HostMemoryOptions mo = {
        .type = HOSTMEM_FILE,
        .id = (char *)"f",
        .size = 1 << 20,
        .mem_path = (char *)"/nonexistent-dir/x",
    };
    g_autoptr(GError) err = NULL;

    g_assert_null(host_memory_backend_new(&mo, &err));
    g_assert_error(err, VFIO_USER_ERROR, ENOENT);
    g_assert_nonnull(strstr(err->message, "/nonexistent-dir/x"));
    g_clear_error(&err);
    mo.type = HOSTMEM_MEMFD;
    mo.mem_path = NULL;
    mo.size = 1000; /* not a page multiple */
    g_assert_null(host_memory_backend_new(&mo, &err));
    g_assert_error(err, VFIO_USER_ERROR, EINVAL);
}

/* ---- a device model with emulated MSI and MSI-X, plugged in slot 3 ---- */

#define DUMMY_ECAM (VMM_ECAM_BASE + (3 << 15))
#define MSI_CAP 0x40
#define MSIX_CAP 0x60

static uint32_t dummy_config_read(PCIDevice *d, uint32_t off, unsigned len)
{
    return pci_default_config_read(d, off, len);
}

static void dummy_config_write(PCIDevice *d, uint32_t off, uint32_t val,
                               unsigned len)
{
    pci_default_config_write(d, off, val, len);
}

/* Outside the MSI-X structures every byte reads 0xab. */
static void dummy_bar_rw(PCIDevice *d, int bar, uint64_t off, void *buf,
                         uint64_t len, bool is_write)
{
    uint8_t *p = buf;

    while (len) {
        uint64_t plain, n = msix_bar_rw(d, bar, off, p, len, is_write, &plain);

        if (!n) {
            n = plain;
            if (!is_write) {
                memset(p, 0xab, n);
            }
        }
        off += n;
        p += n;
        len -= n;
    }
}

static void dummy_destroy(PCIDevice *d)
{
    pci_device_finalize(d);
    g_free(d);
}

static const PCIDeviceOps dummy_ops = {
    .type = "dummy",
    .config_read = dummy_config_read,
    .config_write = dummy_config_write,
    .bar_rw = dummy_bar_rw,
    .destroy = dummy_destroy,
};

static Machine *make_dummy_machine(void)
{
    Machine *m = make_machine(HOSTMEM_MEMFD, NULL, 0, true);
    PCIDevice *d = g_new0(PCIDevice, 1);
    g_autoptr(GError) err = NULL;

    pci_device_init(d, &dummy_ops, "dummy");
    pci_device_emulate(d, 0, 256, 0);
    pci_set_config(d, PCI_VENDOR_ID, 0x1234, 2);
    pci_set_config(d, PCI_DEVICE_ID, 0x5678, 2);
    d->wmask[PCI_COMMAND] = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
    d->wmask[PCI_INTERRUPT_LINE] = 0xff;
    pci_set_config(d, PCI_INTERRUPT_PIN, 1, 1);
    pci_device_set_bar(d, 0, 0x1000, 0);
    pci_device_set_bar(d, 2, 0x100000,
                       PCI_BASE_ADDRESS_MEM_TYPE_64 |
                           PCI_BASE_ADDRESS_MEM_PREFETCH);
    /* MSI: 64-bit, per-vector mask, 4 vectors; MSI-X: 4 vectors in BAR0. */
    msi_init(d, MSI_CAP,
             PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_MASKBIT | (2 << 1));
    g_assert_true(msix_init(d, MSIX_CAP, 3, 0x800, 0xc00, &err));
    g_assert_no_error(err);
    g_assert_true(pci_host_plug(m->pci, d, 3, &err));
    pci_host_firmware_init(m->pci);
    return m;
}

static void test_pci_firmware(void)
{
    Machine *m = make_dummy_machine();

    /* Largest BAR first, naturally aligned, in the 32-bit window. */
    g_assert_cmpuint(machine_ldq(m, DUMMY_ECAM + 0x18, 4), ==,
                     VMM_MMIO32_BASE | 0xc);
    g_assert_cmpuint(machine_ldq(m, DUMMY_ECAM + 0x1c, 4), ==, 0);
    g_assert_cmpuint(machine_ldq(m, DUMMY_ECAM + 0x10, 4), ==,
                     VMM_MMIO32_BASE + 0x100000);
    g_assert_cmpuint(machine_ldq(m, DUMMY_ECAM + PCI_COMMAND, 2), ==,
                     PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    g_assert_cmpuint(machine_ldq(m, DUMMY_ECAM + PCI_INTERRUPT_LINE, 1), ==,
                     VMM_INTX_BASE + 3);
    g_assert_cmpuint(machine_ldq(m, VMM_MMIO32_BASE + 0x100000, 4), ==,
                     0xabababab);
    /* Sizing, then moving BAR2 to the 64-bit window. */
    machine_stq(m, DUMMY_ECAM + 0x10, 0xffffffff, 4);
    g_assert_cmpuint(machine_ldq(m, DUMMY_ECAM + 0x10, 4), ==, 0xfffff000);
    machine_stq(m, DUMMY_ECAM + 0x10, VMM_MMIO32_BASE + 0x100000, 4);
    machine_stq(m, DUMMY_ECAM + 0x18, 0, 4);
    machine_stq(m, DUMMY_ECAM + 0x1c, VMM_MMIO64_BASE >> 32, 4);
    g_assert_cmpuint(machine_ldq(m, VMM_MMIO32_BASE, 4), ==, 0xffffffff);
    g_assert_cmpuint(machine_ldq(m, VMM_MMIO64_BASE + 8, 4), ==, 0xabababab);
    /* Memory decoding off: the BARs disappear. */
    machine_stq(m, DUMMY_ECAM + PCI_COMMAND, 0, 2);
    g_assert_cmpuint(machine_ldq(m, VMM_MMIO64_BASE, 4), ==, 0xffffffff);
    machine_free(m);
}

static void expect_msi(Machine *m, uint64_t addr, uint32_t data)
{
    MSIRecord r;

    g_assert_true(machine_msi_pop(m, &r));
    g_assert_cmphex(r.addr, ==, addr);
    g_assert_cmphex(r.data, ==, data);
}

static void test_pci_msi(void)
{
    Machine *m = make_dummy_machine();
    PCIDevice *d = pci_host_find(m->pci, "dummy");

    msi_notify(d, 0); /* not enabled: dropped */
    g_assert_cmpuint(machine_msi_pending(m), ==, 0);
    machine_stq(m, DUMMY_ECAM + MSI_CAP + 4, 0xfee01000, 4);
    machine_stq(m, DUMMY_ECAM + MSI_CAP + 12, 0x50, 2);
    machine_stq(m, DUMMY_ECAM + MSI_CAP + 2, 1 | (2 << 4), 2);
    g_assert_cmpuint(msi_nr_vectors(d), ==, 4);
    msi_notify(d, 2);
    expect_msi(m, 0xfee01000, 0x52);
    /* Masked vector 1 becomes pending, and is sent when unmasked. */
    machine_stq(m, DUMMY_ECAM + MSI_CAP + 16, 2, 4);
    msi_notify(d, 1);
    g_assert_cmpuint(machine_msi_pending(m), ==, 0);
    g_assert_cmpuint(machine_ldq(m, DUMMY_ECAM + MSI_CAP + 20, 4), ==, 2);
    machine_stq(m, DUMMY_ECAM + MSI_CAP + 16, 0, 4);
    expect_msi(m, 0xfee01000, 0x51);
    g_assert_cmpuint(machine_ldq(m, DUMMY_ECAM + MSI_CAP + 20, 4), ==, 0);
    machine_free(m);
}

static void test_pci_msix(void)
{
    Machine *m = make_dummy_machine();
    PCIDevice *d = pci_host_find(m->pci, "dummy");
    uint64_t table = VMM_MMIO32_BASE + 0x100000 + 0x800;
    uint64_t pba = VMM_MMIO32_BASE + 0x100000 + 0xc00;

    g_assert_cmpuint(machine_ldq(m, DUMMY_ECAM + MSIX_CAP + 2, 2), ==, 3);
    g_assert_cmpuint(machine_ldq(m, DUMMY_ECAM + MSIX_CAP + 4, 4), ==, 0x800);
    machine_stq(m, DUMMY_ECAM + MSIX_CAP + 2, PCI_MSIX_FLAGS_ENABLE, 2);
    g_assert_cmpuint(msix_nr_vectors(d), ==, 4);
    /* Every vector starts masked. */
    g_assert_cmpuint(machine_ldq(m, table + 16 + 12, 4), ==, 1);
    machine_stq(m, table + 16, 0xfee02000, 8);
    machine_stq(m, table + 16 + 8, 0x77, 4);
    machine_stq(m, table + 16 + 12, 0, 4);
    msix_notify(d, 1);
    expect_msi(m, 0xfee02000, 0x77);
    /* Vector 2 masked: pending bit in the PBA, sent on unmask. */
    machine_stq(m, table + 32, 0xfee03000, 8);
    machine_stq(m, table + 32 + 8, 0x88, 4);
    msix_notify(d, 2);
    g_assert_cmpuint(machine_msi_pending(m), ==, 0);
    g_assert_cmpuint(machine_ldq(m, pba, 8), ==, 4);
    machine_stq(m, table + 32 + 12, 0, 4);
    expect_msi(m, 0xfee03000, 0x88);
    g_assert_cmpuint(machine_ldq(m, pba, 8), ==, 0);
    /* Function mask holds everything back until cleared. */
    machine_stq(m, DUMMY_ECAM + MSIX_CAP + 2,
                PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL, 2);
    msix_notify(d, 1);
    g_assert_cmpuint(machine_msi_pending(m), ==, 0);
    machine_stq(m, DUMMY_ECAM + MSIX_CAP + 2, PCI_MSIX_FLAGS_ENABLE, 2);
    expect_msi(m, 0xfee02000, 0x77);
    /* A read across the end of the PBA: PBA bytes, then plain BAR. */
    g_assert_cmphex(machine_ldq(m, pba + 4, 8), ==, 0xabababab00000000ULL);
    machine_free(m);
}

/* ---- vfio-user-pci against an in-process server ---- */

#define DEV1_ECAM (VMM_ECAM_BASE + (1 << 15))

static void set_flag(gpointer p)
{
    *(bool *)p = true;
}

static gboolean timeout_flag(gpointer p)
{
    set_flag(p);
    return G_SOURCE_REMOVE;
}

/* Run the main loop (interrupt eventfds) until @done or 10 s passed. */
static bool run_until(bool (*done)(Machine *m, void *arg), Machine *m,
                      void *arg)
{
    bool expired = false;
    guint t = g_timeout_add_seconds(10, timeout_flag, &expired);

    /* Like the VMM's event loop: a run of accesses ends before we wait. */
    pci_host_flush(m->pci);
    while (!done(m, arg) && !expired) {
        g_main_context_iteration(NULL, true);
    }
    if (!expired) {
        g_source_remove(t);
    }
    return done(m, arg);
}

static bool msi_count_is(Machine *m, void *arg)
{
    return machine_msi_pending(m) >= GPOINTER_TO_UINT(arg);
}

static bool irq_is_high(Machine *m, void *arg)
{
    return m->irq_level[GPOINTER_TO_INT(arg)];
}

static Machine *server_machine(TestServer *ts, TestServer *ts2)
{
    Machine *m = make_machine(HOSTMEM_MEMFD, NULL, 0, true);
    VFIOUserPCIOptions o;
    g_autoptr(GError) err = NULL;

    vfio_user_pci_options_init(&o);
    o.socket = ts->path;
    o.id = (char *)"t0";
    o.sub_device_id = 0x4242;
    g_assert_nonnull(vfio_user_pci_realize(m, &o, 1, &err));
    g_assert_no_error(err);
    if (ts2) {
        o.socket = ts2->path;
        o.id = (char *)"t1";
        g_assert_nonnull(vfio_user_pci_realize(m, &o, 2, &err));
        g_assert_no_error(err);
    }
    pci_host_firmware_init(m->pci);
    return m;
}

static uint8_t find_cap(Machine *m, uint8_t id)
{
    uint8_t pos = machine_ldq(m, DEV1_ECAM + PCI_CAPABILITY_LIST, 1);

    for (int guard = 0; pos && guard < 48; guard++) {
        if (machine_ldq(m, DEV1_ECAM + pos, 1) == id) {
            return pos;
        }
        pos = machine_ldq(m, DEV1_ECAM + pos + 1, 1);
    }
    return 0;
}

static uint64_t bar(Machine *m, int i)
{
    return machine_ldq(m, DEV1_ECAM + PCI_BASE_ADDRESS_0 + 4 * i, 4) & ~0xfu;
}

static void test_vfu_config_and_bars(void)
{
    TestServer *ts = test_server_start();
    Machine *m = server_machine(ts, NULL);

    g_assert_cmphex(machine_ldq(m, DEV1_ECAM, 4), ==,
                    TDEV_DEVICE << 16 | TDEV_VENDOR);
    g_assert_cmphex(machine_ldq(m, DEV1_ECAM + PCI_SUBSYSTEM_ID, 2), ==,
                    0x4242);
    g_assert_cmphex(bar(m, 0), ==, VMM_MMIO32_BASE);
    g_assert_cmphex(bar(m, 2), ==, VMM_MMIO32_BASE + 0x10000);
    /* BAR0 outside the MSI-X structures is the server's memory. */
    machine_stq(m, bar(m, 0) + 0x100, 0x11223344, 4);
    g_assert_cmphex(ts->bar0[0x100], ==, 0x44);
    ts->bar0[0x104] = 0x5a;
    g_assert_cmphex(machine_ldq(m, bar(m, 0) + 0x104, 1), ==, 0x5a);
    /* Registers by message; the posted write is done before the read. */
    machine_stq(m, bar(m, 2) + 0x8, 0, 4);
    g_assert_cmpuint(machine_ldq(m, bar(m, 2) + 0xc, 4), ==, 1);
    /* Sizing stays local, and the guest can move the BAR. */
    machine_stq(m, DEV1_ECAM + PCI_BASE_ADDRESS_2, 0xffffffff, 4);
    g_assert_cmphex(machine_ldq(m, DEV1_ECAM + PCI_BASE_ADDRESS_2, 4), ==,
                    0xfffff000);
    machine_stq(m, DEV1_ECAM + PCI_BASE_ADDRESS_2, 0xd0000000, 4);
    g_assert_cmpuint(machine_ldq(m, 0xd000000c, 4), ==, 1);
    /* The server's 1 TiB BAR4 is not placed: sizing reads back 0. */
    machine_stq(m, DEV1_ECAM + PCI_BASE_ADDRESS_4, 0xffffffff, 4);
    g_assert_cmphex(machine_ldq(m, DEV1_ECAM + PCI_BASE_ADDRESS_4, 4), ==, 0);
    machine_free(m);
    g_assert_true(test_server_wait_disconnects(ts, 1));
    test_server_stop(ts);
}

static bool pba_bit_set(Machine *m, void *arg)
{
    return machine_ldq(m, bar(m, 0) + TDEV_MSIX_PBA, 8) & GPOINTER_TO_UINT(arg);
}

static void test_vfu_msix(void)
{
    TestServer *ts = test_server_start();
    Machine *m = server_machine(ts, NULL);
    uint8_t cap = find_cap(m, PCI_CAP_ID_MSIX);
    uint64_t entry2 = bar(m, 0) + TDEV_MSIX_TABLE + 32, regs = bar(m, 2);
    MSIRecord r;

    g_assert_cmpuint(cap, !=, 0);
    machine_stq(m, DEV1_ECAM + cap + 2, PCI_MSIX_FLAGS_ENABLE, 2);
    machine_stq(m, entry2, VMM_MSI_BASE + 0x20, 8);
    machine_stq(m, entry2 + 8, 0x1234, 4);
    machine_stq(m, entry2 + 12, 0, 4);
    /* The table is the client's: the server's memory stays untouched. */
    g_assert_cmphex(machine_ldq(m, entry2 + 8, 4), ==, 0x1234);
    g_assert_cmphex(ts->bar0[TDEV_MSIX_TABLE + 32 + 8], ==, 0);
    machine_stq(m, regs, 2, 4);
    g_assert_true(run_until(msi_count_is, m, GUINT_TO_POINTER(1)));
    g_assert_true(machine_msi_pop(m, &r));
    g_assert_cmphex(r.addr, ==, VMM_MSI_BASE + 0x20);
    g_assert_cmphex(r.data, ==, 0x1234);
    /* Masked: pending in the PBA, delivered on unmask. */
    machine_stq(m, entry2 + 12, 1, 4);
    machine_stq(m, regs, 2, 4);
    machine_ldq(m, regs + 0xc, 4);
    g_assert_true(run_until(pba_bit_set, m, GUINT_TO_POINTER(4)));
    g_assert_cmpuint(machine_msi_pending(m), ==, 0);
    machine_stq(m, entry2 + 12, 0, 4);
    g_assert_cmpuint(machine_msi_pending(m), ==, 1);
    g_assert_cmphex(machine_ldq(m, bar(m, 0) + TDEV_MSIX_PBA, 8), ==, 0);
    machine_free(m);
    test_server_stop(ts);
}

static void test_vfu_msi(void)
{
    TestServer *ts = test_server_start();
    Machine *m = server_machine(ts, NULL);
    uint8_t cap = find_cap(m, PCI_CAP_ID_MSI);
    uint16_t ctrl = machine_ldq(m, DEV1_ECAM + cap + PCI_MSI_FLAGS, 2);
    uint32_t data_off = ctrl & PCI_MSI_FLAGS_64BIT ? 12 : 8;
    MSIRecord r;

    g_assert_cmpuint(cap, !=, 0);
    machine_stq(m, DEV1_ECAM + cap + 4, VMM_MSI_BASE + 0x40, 4);
    machine_stq(m, DEV1_ECAM + cap + data_off, 0x4060, 2);
    machine_stq(m, DEV1_ECAM + cap + 2, PCI_MSI_FLAGS_ENABLE | (2 << 4), 2);
    machine_stq(m, bar(m, 2) + 0x8, 3, 4);
    g_assert_true(run_until(msi_count_is, m, GUINT_TO_POINTER(1)));
    g_assert_true(machine_msi_pop(m, &r));
    g_assert_cmphex(r.addr, ==, VMM_MSI_BASE + 0x40);
    g_assert_cmphex(r.data, ==, 0x4063);
    machine_free(m);
    test_server_stop(ts);
}

static void irq_changed(int irq, bool level, void *opaque)
{
    int *log = opaque;

    log[irq] += level ? 1 : 100;
}

static void test_vfu_intx_reset(void)
{
    TestServer *ts = test_server_start();
    Machine *m = server_machine(ts, NULL);
    int irq = machine_ldq(m, DEV1_ECAM + PCI_INTERRUPT_LINE, 1);
    int log[256] = {0};

    g_assert_cmpint(irq, ==, VMM_INTX_BASE + 1);
    machine_set_irq_notify(m, irq_changed, log);
    machine_stq(m, bar(m, 2) + 0x4, 1, 4);
    g_assert_true(run_until(irq_is_high, m, GINT_TO_POINTER(irq)));
    g_assert_cmpint(log[irq], ==, 1);
    /* The next BAR access is the EOI: the line goes down. */
    machine_ldq(m, bar(m, 2) + 0xc, 4);
    g_assert_false(m->irq_level[irq]);
    g_assert_cmpint(log[irq], ==, 101);
    /* Reset: BARs placed again, memory decoding on, MSI-X off. */
    machine_stq(m, DEV1_ECAM + PCI_BASE_ADDRESS_2, 0xd0000000, 4);
    machine_reset(m);
    g_assert_cmphex(bar(m, 2), ==, VMM_MMIO32_BASE + 0x10000);
    g_assert_cmpuint(
        machine_ldq(m, DEV1_ECAM + PCI_COMMAND, 2) & PCI_COMMAND_MEMORY, !=, 0);
    g_assert_cmpuint(machine_ldq(m, bar(m, 2) + 0xc, 4), ==, 1);
    machine_free(m);
    test_server_stop(ts);
}

/* GET_IRQ_INFO counts that disagree with the capabilities: no device. */
static void test_vfu_irq_info(void)
{
    static const struct {
        int msi, msix;
        const char *msg;
    } cases[] = {
        {2, -1, "the server offers 2 MSI vectors but its MSI capability has 4"},
        {0, -1, "the server offers 0 MSI vectors but its MSI capability has 4"},
        {-1, 8,
         "the server offers 8 MSI-X vectors but its MSI-X capability has 4"},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        TestServer *ts = test_server_start_counts(cases[i].msi, cases[i].msix);
        Machine *m = make_machine(HOSTMEM_MEMFD, NULL, 0, true);
        VFIOUserPCIOptions o;
        g_autoptr(GError) err = NULL;

        vfio_user_pci_options_init(&o);
        o.socket = ts->path;
        o.id = (char *)"t0";
        g_assert_null(vfio_user_pci_realize(m, &o, 1, &err));
        g_assert_nonnull(err);
        g_assert_nonnull(strstr(err->message, cases[i].msg));
        g_assert_true(test_server_wait_disconnects(ts, 1));
        machine_free(m);
        test_server_stop(ts);
    }
}

static bool dev_failed_quiet(Machine *m, void *arg)
{
    g_autoptr(GString) out = g_string_new(NULL);

    (void)arg;
    monitor_execute(m, "info vfio-user", out);
    g_assert_nonnull(strstr(out->str, "t1: vfio-user-pci at 00:02.0"));
    return strstr(out->str, "state failed") &&
           strstr(out->str, "interrupts none");
}

static void test_vfu_unplug_and_failure(void)
{
    TestServer *ts = test_server_start(), *ts2 = test_server_start();
    Machine *m = server_machine(ts, ts2);
    uint64_t dev2 = VMM_ECAM_BASE + (2 << 15);
    g_autoptr(GString) out = g_string_new(NULL);

    monitor_execute(m, "device_del t0", out);
    g_assert_cmpstr(out->str, ==, "");
    g_assert_true(test_server_wait_disconnects(ts, 1));
    g_assert_cmphex(machine_ldq(m, DEV1_ECAM, 4), ==, 0xffffffff);
    monitor_execute(m, "info pci", out);
    g_assert_null(strstr(out->str, "\"t0\""));
    g_assert_nonnull(strstr(out->str, "\"t1\""));
    /* The other server goes away: all-ones, writes dropped, VMM alive. */
    test_server_stop(ts2);
    g_assert_cmphex(machine_ldq(m, dev2, 4), ==, 0xffffffff);
    machine_stq(m, dev2 + PCI_COMMAND, 0, 2);
    g_assert_cmphex(machine_ldq(m, dev2, 4), ==, 0xffffffff);
    machine_stq(m, 0x2000, 0x77, 4);
    g_assert_cmphex(machine_ldq(m, 0x2000, 4), ==, 0x77);
    /* The failure reaches the main loop, which drops the eventfds. */
    g_assert_true(run_until(dev_failed_quiet, m, NULL));
    machine_free(m);
    test_server_stop(ts);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmm/options/sizes", test_sizes);
    g_test_add_func("/vmm/options/full", test_full_command_line);
    g_test_add_func("/vmm/options/defaults", test_defaults);
    g_test_add_func("/vmm/options/errors", test_errors);
    g_test_add_func("/vmm/options/help", test_help);
    g_test_add_func("/vmm/machine/address-space", test_address_space);
    g_test_add_func("/vmm/machine/file-offset", test_file_backend_offset);
    g_test_add_func("/vmm/machine/backend-errors", test_backend_errors);
    g_test_add_func("/vmm/pci/firmware", test_pci_firmware);
    g_test_add_func("/vmm/pci/msi", test_pci_msi);
    g_test_add_func("/vmm/pci/msix", test_pci_msix);
    g_test_add_func("/vmm/vfio-user-pci/config-bars", test_vfu_config_and_bars);
    g_test_add_func("/vmm/vfio-user-pci/msix", test_vfu_msix);
    g_test_add_func("/vmm/vfio-user-pci/msi", test_vfu_msi);
    g_test_add_func("/vmm/vfio-user-pci/intx-reset", test_vfu_intx_reset);
    g_test_add_func("/vmm/vfio-user-pci/irq-info", test_vfu_irq_info);
    g_test_add_func("/vmm/vfio-user-pci/unplug-failure",
                    test_vfu_unplug_and_failure);
    return g_test_run();
}
