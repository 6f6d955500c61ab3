/*
 * Unit tests of the sample virtio-net device's pieces: the descriptor
 * walker against a buffer of fake guest memory (every rule a malicious
 * driver can break), the --netdev parser, the error of a hostfwd port in
 * use, the transmit filter, and the library's vus_server_add_pci_cap().
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <dlfcn.h>
#include <errno.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/pci_regs.h>
#include <linux/virtio_ring.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "devices.h"
#include "virtio-net.h"

#define MEM_SIZE 0x10000
#define DESC 0x1000
#define AVAIL 0x2000
#define USED 0x3000
#define QSIZE 8

typedef struct FakeMem {
    uint8_t mem[MEM_SIZE];
} FakeMem;

static bool fake_rw(FakeMem *f, uint64_t addr, void *buf, size_t len,
                    bool is_write, GError **errp)
{
    if (addr > MEM_SIZE || len > MEM_SIZE - addr) {
        return vfio_user_error_set(errp, EFAULT, "outside");
    }
    if (is_write) {
        memcpy(f->mem + addr, buf, len);
    } else {
        memcpy(buf, f->mem + addr, len);
    }
    return true;
}

static bool fake_read(void *o, uint64_t a, void *b, size_t l, GError **e)
{
    return fake_rw(o, a, b, l, false, e);
}

static bool fake_write(void *o, uint64_t a, const void *b, size_t l, GError **e)
{
    return fake_rw(o, a, (void *)b, l, true, e);
}

typedef struct RingFixture {
    FakeMem *f;
    VringMem mem;
    Vring vr;
    VringChain c;
} RingFixture;

static void ring_setup(RingFixture *r)
{
    r->f = g_new0(FakeMem, 1);
    r->mem = (VringMem){.read = fake_read, .write = fake_write, .opaque = r->f};
    r->vr = (Vring){.num = QSIZE, .desc = DESC, .avail = AVAIL, .used = USED};
    g_assert_true(vring_check_config(&r->vr, NULL));
}

static void put_desc(RingFixture *r, uint16_t i, uint64_t addr, uint32_t len,
                     uint16_t flags, uint16_t next)
{
    struct vring_desc d = {addr, len, flags, next};

    memcpy(r->f->mem + DESC + 16 * i, &d, sizeof(d));
}

static void publish(RingFixture *r, uint16_t idx, uint16_t head)
{
    memcpy(r->f->mem + AVAIL + 4 + 2 * ((idx - 1) % QSIZE), &head, 2);
    memcpy(r->f->mem + AVAIL + 2, &idx, 2);
}

static void expect_error(RingFixture *r, int code)
{
    GError *err = NULL;

    g_assert_cmpint(vring_pop(&r->vr, &r->mem, 4096, &r->c, &err), ==,
                    VRING_POP_ERROR);
    g_assert_nonnull(err);
    g_assert_cmpint(err->code, ==, code);
    g_error_free(err);
    g_free(r->f);
}

static void test_ring_good_chain(void)
{
    RingFixture r;
    uint8_t out[20], in[] = "device data";
    uint16_t used_idx;
    struct vring_used_elem e;

    ring_setup(&r);
    g_assert_cmpint(vring_pop(&r.vr, &r.mem, 4096, &r.c, NULL), ==,
                    VRING_POP_EMPTY);
    memcpy(r.f->mem + 0x8000, "0123456789", 10);
    memcpy(r.f->mem + 0x9000, "abcdefghij", 10);
    put_desc(&r, 5, 0x8000, 10, VRING_DESC_F_NEXT, 2);
    put_desc(&r, 2, 0x9000, 10, VRING_DESC_F_NEXT, 7);
    put_desc(&r, 7, 0xa000, 100, VRING_DESC_F_WRITE, 0);
    publish(&r, 1, 5);
    g_assert_cmpint(vring_pop(&r.vr, &r.mem, 4096, &r.c, NULL), ==,
                    VRING_POP_OK);
    g_assert_cmpuint(r.c.head, ==, 5);
    g_assert_cmpuint(r.c.nout, ==, 2);
    g_assert_cmpuint(r.c.nin, ==, 1);
    g_assert_cmpuint(r.c.out_bytes, ==, 20);
    g_assert_true(vring_chain_read(&r.c, &r.mem, out, 20, NULL));
    g_assert_cmpmem(out, 20, "0123456789abcdefghij", 20);
    g_assert_false(vring_chain_read(&r.c, &r.mem, out, 21, NULL));
    g_assert_true(vring_chain_write(&r.c, &r.mem, 4, in, sizeof(in), NULL));
    g_assert_cmpmem(r.f->mem + 0xa004, sizeof(in), in, sizeof(in));
    g_assert_false(vring_chain_write(&r.c, &r.mem, 90, in, sizeof(in), NULL));
    g_assert_true(vring_push(&r.vr, &r.mem, 5, 16, NULL));
    memcpy(&used_idx, r.f->mem + USED + 2, 2);
    memcpy(&e, r.f->mem + USED + 4, sizeof(e));
    g_assert_cmpuint(used_idx, ==, 1);
    g_assert_cmpuint(e.id, ==, 5);
    g_assert_cmpuint(e.len, ==, 16);
    g_assert_true(vring_want_interrupt(&r.vr, &r.mem, NULL));
    r.f->mem[AVAIL] = VRING_AVAIL_F_NO_INTERRUPT;
    g_assert_false(vring_want_interrupt(&r.vr, &r.mem, NULL));
    g_assert_cmpint(vring_pop(&r.vr, &r.mem, 4096, &r.c, NULL), ==,
                    VRING_POP_EMPTY);
    g_free(r.f);
}

/* The fake's vectored access, recording each call's pieces. */
typedef struct RwvLog {
    unsigned calls;
    size_t pieces[8];
    bool is_write[8];
    uint64_t addr[8][4];
} RwvLog;

static RwvLog rwv_log;

static bool fake_rwv(void *o, const VringIov *iov, size_t n, bool is_write,
                     GError **e)
{
    unsigned c = rwv_log.calls++;

    g_assert_cmpuint(c, <, G_N_ELEMENTS(rwv_log.pieces));
    rwv_log.pieces[c] = n;
    rwv_log.is_write[c] = is_write;
    for (size_t i = 0; i < n; i++) {
        if (i < G_N_ELEMENTS(rwv_log.addr[c])) {
            rwv_log.addr[c][i] = iov[i].addr;
        }
        if (!fake_rw(o, iov[i].addr, iov[i].buf, iov[i].len, is_write, e)) {
            return false;
        }
    }
    return true;
}

/*
 * With a vectored access, each step is one call: a chain's readable
 * buffers, the writable ones an output spans, and a used element with the
 * index after it.
 */
static void test_ring_vectored(void)
{
    RingFixture r;
    uint8_t out[20], in[16];
    uint16_t used_idx;

    ring_setup(&r);
    r.mem.rwv = fake_rwv;
    memset(&rwv_log, 0, sizeof(rwv_log));
    memcpy(r.f->mem + 0x8000, "0123456789", 10);
    memcpy(r.f->mem + 0x9000, "abcdefghij", 10);
    put_desc(&r, 1, 0x8000, 10, VRING_DESC_F_NEXT, 2);
    put_desc(&r, 2, 0x9000, 10, VRING_DESC_F_NEXT, 3);
    put_desc(&r, 3, 0xa000, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 4);
    put_desc(&r, 4, 0xb000, 8, VRING_DESC_F_WRITE, 0);
    publish(&r, 1, 1);
    g_assert_cmpint(vring_pop(&r.vr, &r.mem, 4096, &r.c, NULL), ==,
                    VRING_POP_OK);
    g_assert_cmpuint(rwv_log.calls, ==, 0); /* the walk reads one by one */
    g_assert_true(vring_chain_read(&r.c, &r.mem, out, 15, NULL));
    g_assert_cmpmem(out, 15, "0123456789abcde", 15);
    memset(in, 0x5c, sizeof(in));
    g_assert_true(vring_chain_write(&r.c, &r.mem, 2, in, 12, NULL));
    g_assert_cmpuint(r.f->mem[0xa001], ==, 0);
    g_assert_cmpuint(r.f->mem[0xa002], ==, 0x5c);
    g_assert_cmpuint(r.f->mem[0xb005], ==, 0x5c);
    g_assert_cmpuint(r.f->mem[0xb006], ==, 0);
    g_assert_true(vring_push(&r.vr, &r.mem, 1, 12, NULL));
    memcpy(&used_idx, r.f->mem + USED + 2, 2);
    g_assert_cmpuint(used_idx, ==, 1);
    g_assert_cmpuint(rwv_log.calls, ==, 3);
    g_assert_cmpuint(rwv_log.pieces[0], ==, 2);
    g_assert_false(rwv_log.is_write[0]);
    g_assert_cmpuint(rwv_log.addr[0][1], ==, 0x9000);
    g_assert_cmpuint(rwv_log.pieces[1], ==, 2);
    g_assert_true(rwv_log.is_write[1]);
    g_assert_cmpuint(rwv_log.addr[1][0], ==, 0xa002);
    g_assert_cmpuint(rwv_log.addr[1][1], ==, 0xb000);
    /* The element first, then the index that publishes it. */
    g_assert_cmpuint(rwv_log.pieces[2], ==, 2);
    g_assert_cmpuint(rwv_log.addr[2][0], ==, USED + 4);
    g_assert_cmpuint(rwv_log.addr[2][1], ==, USED + 2);
    g_free(r.f);
}

static void test_ring_loop(void)
{
    RingFixture r;

    ring_setup(&r);
    put_desc(&r, 0, 0x8000, 1, VRING_DESC_F_NEXT, 1);
    put_desc(&r, 1, 0x8000, 1, VRING_DESC_F_NEXT, 0);
    publish(&r, 1, 0);
    expect_error(&r, ELOOP);
}

static void test_ring_bad_indexes(void)
{
    RingFixture r;

    ring_setup(&r);
    publish(&r, 1, QSIZE); /* head out of the table */
    expect_error(&r, EINVAL);
    ring_setup(&r);
    put_desc(&r, 0, 0x8000, 1, VRING_DESC_F_NEXT, 100);
    publish(&r, 1, 0);
    expect_error(&r, EINVAL);
    ring_setup(&r);
    publish(&r, QSIZE + 1, 0); /* more than the ring holds */
    expect_error(&r, EINVAL);
}

static void test_ring_bad_buffers(void)
{
    RingFixture r;

    ring_setup(&r);
    put_desc(&r, 0, UINT64_MAX - 10, 100, 0, 0); /* wraps */
    publish(&r, 1, 0);
    expect_error(&r, EINVAL);
    ring_setup(&r);
    put_desc(&r, 0, 0x8000, 0xffffffffu, 0, 0); /* over the limit */
    publish(&r, 1, 0);
    expect_error(&r, EMSGSIZE);
    ring_setup(&r);
    put_desc(&r, 0, 0x8000, 10, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
    put_desc(&r, 1, 0x9000, 10, 0, 0); /* readable after writable */
    publish(&r, 1, 0);
    expect_error(&r, EINVAL);
    ring_setup(&r);
    put_desc(&r, 0, 0x8000, 16, VRING_DESC_F_INDIRECT, 0);
    publish(&r, 1, 0);
    expect_error(&r, EINVAL);
    ring_setup(&r);
    r.vr.avail = MEM_SIZE; /* the ring itself outside memory */
    expect_error(&r, EFAULT);
}

static void test_ring_config(void)
{
    Vring bad[] = {
        {.num = 0, .desc = DESC, .avail = AVAIL, .used = USED},
        {.num = 3, .desc = DESC, .avail = AVAIL, .used = USED},
        {.num = 512, .desc = DESC, .avail = AVAIL, .used = USED},
        {.num = 8, .desc = DESC + 8, .avail = AVAIL, .used = USED},
        {.num = 8, .desc = DESC, .avail = AVAIL + 1, .used = USED},
        {.num = 8, .desc = DESC, .avail = AVAIL, .used = USED + 2},
        {.num = 8, .desc = UINT64_MAX - 15, .avail = AVAIL, .used = USED},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        GError *err = NULL;

        g_assert_false(vring_check_config(&bad[i], &err));
        g_assert_nonnull(err);
        g_error_free(err);
    }
}

/*
 * GLib's g_ascii_strtoull() is strtoull_l(); while @strtoull_clobbers is
 * set, this one leaves errno at EAGAIN on success too, as GLib 2.74's
 * first g_ascii_strtoull() of a process does when another thread holds
 * GLib's g_once lock (a futex wait that found the lock changed).
 */
static bool strtoull_clobbers;

typedef unsigned long long StrtoullL(const char *, char **, int, locale_t);

unsigned long long strtoull_l(const char *nptr, char **endptr, int base,
                              locale_t loc)
{
    static StrtoullL *real;
    unsigned long long v;

    if (!real) {
        real = (StrtoullL *)dlsym(RTLD_NEXT, "strtoull_l");
        g_assert_nonnull(real);
    }
    v = real(nptr, endptr, base, loc);
    if (strtoull_clobbers) {
        errno = EAGAIN;
    }
    return v;
}

/* A valid hostfwd must parse whatever errno library calls leave behind. */
static void test_netdev_parse_errno(void)
{
    VnetBackend *be;
    GError *err = NULL;

    strtoull_clobbers = true;
    errno = 0;
    g_assert_cmpuint(g_ascii_strtoull("46517", NULL, 10), ==, 46517);
    g_assert_cmpint(errno, ==, EAGAIN); /* the wrapper is in effect */
    be = vnet_backend_new("user,hostfwd=tcp:127.0.0.1:46517-:7777", &err);
    strtoull_clobbers = false;
    g_assert_no_error(err);
    g_assert_nonnull(be);
    vnet_backend_free(be);
}

static void test_netdev_parse(void)
{
    const char *good[] = {
        "user",
        "user,hostfwd=tcp:127.0.0.1:5555-:22",
        "user,hostfwd=tcp::5555-10.0.2.15:22,hostfwd=udp::6000-:53",
        "user,hostfwd=tcp:127.0.0.1:1-:65535",
        "user,hostfwd=tcp:127.0.0.1:32767-:32768",
        "user,hostfwd=tcp:127.0.0.1:46517-:7777",
        "user,hostfwd=tcp:127.0.0.1:65535-:1",
        "user,hostfwd=tcp::05555-:022",
    };
    const char *bad[] = {
        "tap",
        "",
        "user,restrict=on",
        "user,hostfwd=tcp:0.0.0.0:5555-:22",
        "user,hostfwd=sctp::5555-:22",
        "user,hostfwd=tcp::0-:22",
        "user,hostfwd=tcp::5555-:70000",
        "user,hostfwd=tcp::65536-:22",
        "user,hostfwd=tcp::99999999999999999999-:22",
        "user,hostfwd=tcp::5555-:0",
        "user,hostfwd=tcp::5555-:000",
        "user,hostfwd=tcp::+5555-:22",
        "user,hostfwd=tcp:: 5555-:22",
        "user,hostfwd=tcp::5555 -:22",
        "user,hostfwd=tcp::0x15b3-:22",
        "user,hostfwd=tcp::5555-:",
        "user,hostfwd=tcp::5555",
        "user,hostfwd=tcp::5555-bogus:22",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
        VnetBackend *be;

        errno = ERANGE; /* a stale errno must not matter */
        be = vnet_backend_new(good[i], NULL);
        g_assert_nonnull(be);
        vnet_backend_free(be);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        GError *err = NULL;

        g_assert_null(vnet_backend_new(bad[i], &err));
        g_assert_nonnull(err);
        g_assert_cmpint(err->code, ==, EINVAL);
        g_error_free(err);
    }
}

/* A socket of @type bound to a port of 127.0.0.1 picked by the kernel. */
static int bound_socket(int type, uint16_t *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    g_assert_cmpint(getsockname(fd, (struct sockaddr *)&sa, &len), ==, 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

/* A hostfwd port someone else holds: the error says which and why. */
static void test_hostfwd_in_use(void)
{
    static const struct {
        int type;
        const char *proto;
    } cases[] = {{SOCK_STREAM, "tcp"}, {SOCK_DGRAM, "udp"}};

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        VusServer *srv = vus_server_new(NULL, NULL, NULL);
        uint16_t port;
        int fd = bound_socket(cases[i].type, &port);
        g_autofree char *netdev = g_strdup_printf(
            "user,hostfwd=%s:127.0.0.1:%u-:22", cases[i].proto, port);
        g_autofree char *msg =
            g_strdup_printf("hostfwd: cannot listen on %s 127.0.0.1:%u: %s",
                            cases[i].proto, port, g_strerror(EADDRINUSE));
        GError *err = NULL;

        if (cases[i].type == SOCK_STREAM) {
            g_assert_cmpint(listen(fd, 1), ==, 0);
        }
        g_assert_null(sample_virtio_net_type.create_net(srv, netdev, &err));
        g_assert_nonnull(err);
        g_assert_cmpint(err->code, ==, EADDRINUSE);
        g_assert_cmpstr(err->message, ==, msg);
        g_error_free(err);
        close(fd);
        vus_server_free(srv);
    }
}

static void test_frame_filter(void)
{
    uint8_t f[34] = {0};

    g_assert_false(vnet_frame_allowed(f, 13));
    f[12] = 0x08, f[13] = 0x06; /* ARP */
    g_assert_true(vnet_frame_allowed(f, 28));
    f[13] = 0x00; /* IPv4 */
    memcpy(f + 30, "\x0a\x00\x02\x02", 4);
    g_assert_true(vnet_frame_allowed(f, 34));
    g_assert_false(vnet_frame_allowed(f, 33));
    memcpy(f + 30, "\xff\xff\xff\xff", 4);
    g_assert_true(vnet_frame_allowed(f, 34));
    memcpy(f + 30, "\x7f\x00\x00\x01", 4);
    g_assert_false(vnet_frame_allowed(f, 34));
    memcpy(f + 30, "\x08\x08\x08\x08", 4);
    g_assert_false(vnet_frame_allowed(f, 34));
    f[12] = 0x86, f[13] = 0xdd; /* IPv6 */
    g_assert_false(vnet_frame_allowed(f, 34));
}

static void test_pci_vendor_cap(void)
{
    VusServer *srv = vus_server_new(NULL, NULL, NULL);
    VusRegionDesc bar0 = {.size = 4096, .flags = VUS_REGION_F_RW, .mem = true};
    VusPciDesc pci = {.vendor_id = 0x1af4,
                      .device_id = 0x1041,
                      .msix_vectors = 2,
                      .msix_bar = 0,
                      .msix_pba_offset = 0x800};
    uint8_t cap[16] = {0, 0, 16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13};
    uint8_t big[200] = {0};
    GError *err = NULL;
    const uint8_t *cfg;
    uint8_t pos;

    g_assert_nonnull(srv);
    g_assert_false(
        vus_server_add_pci_cap(srv, PCI_CAP_ID_VNDR, cap, sizeof(cap), &err));
    g_clear_error(&err);
    g_assert_true(vus_server_setup_region(srv, VFIO_PCI_BAR0_REGION_INDEX,
                                          &bar0, NULL, NULL));
    g_assert_true(vus_server_setup_pci(srv, &pci, NULL));
    g_assert_true(
        vus_server_add_pci_cap(srv, PCI_CAP_ID_VNDR, cap, sizeof(cap), NULL));
    g_assert_true(
        vus_server_add_pci_cap(srv, PCI_CAP_ID_VNDR, cap, sizeof(cap), NULL));
    g_assert_false(
        vus_server_add_pci_cap(srv, PCI_CAP_ID_VNDR, big, sizeof(big), &err));
    g_assert_cmpint(err->code, ==, ENOSPC);
    g_clear_error(&err);
    cfg = vus_pci_config_space(srv);
    pos = cfg[PCI_CAPABILITY_LIST];
    g_assert_cmphex(cfg[pos], ==, PCI_CAP_ID_MSIX);
    pos = cfg[pos + 1];
    g_assert_cmphex(cfg[pos], ==, PCI_CAP_ID_VNDR);
    g_assert_cmpmem(cfg + pos + 2, 14, cap + 2, 14);
    pos = cfg[pos + 1];
    g_assert_cmphex(cfg[pos], ==, PCI_CAP_ID_VNDR);
    g_assert_cmphex(cfg[pos + 1], ==, 0);
    vus_server_free(srv);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/virtio-net/ring/good-chain", test_ring_good_chain);
    g_test_add_func("/virtio-net/ring/vectored", test_ring_vectored);
    g_test_add_func("/virtio-net/ring/loop", test_ring_loop);
    g_test_add_func("/virtio-net/ring/bad-indexes", test_ring_bad_indexes);
    g_test_add_func("/virtio-net/ring/bad-buffers", test_ring_bad_buffers);
    g_test_add_func("/virtio-net/ring/config", test_ring_config);
    g_test_add_func("/virtio-net/netdev-parse", test_netdev_parse);
    g_test_add_func("/virtio-net/netdev-parse-errno", test_netdev_parse_errno);
    g_test_add_func("/virtio-net/hostfwd-in-use", test_hostfwd_in_use);
    g_test_add_func("/virtio-net/frame-filter", test_frame_filter);
    g_test_add_func("/virtio-net/pci-vendor-cap", test_pci_vendor_cap);
    return g_test_run();
}
