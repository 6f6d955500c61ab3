/*
 * Test device and fake client for the libvfio-user-server unit tests
 * (see server-conn.h).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include "server-conn.h"
#include "vfu-test.h"

static ssize_t bar0_access(void *opaque, bool is_write, uint64_t off, void *buf,
                           size_t len)
{
    TestDev *d = opaque;
    g_autoptr(GError) err = NULL;
    uint32_t cmd = 0;
    bool ok = true;

    if (!is_write) {
        if (off == 0x10 && len == 4) {
            memcpy(buf, &d->status, 4);
        } else {
            memcpy(buf, d->scratch + off, len);
        }
        return (ssize_t)len;
    }
    if (off == 0x00 && len == 8) {
        memcpy(&d->dma_addr, buf, 8);
    } else if (off == 0x08 && len == 4) {
        memcpy(&d->dma_len, buf, 4);
    } else if (off == 0x0c && len == 4) {
        memcpy(&cmd, buf, 4);
        if (cmd == 1) {
            ok = vus_dma_read(d->srv, d->dma_addr, d->buf, d->dma_len, &err);
        } else if (cmd == 2) {
            ok = vus_dma_write(d->srv, d->dma_addr, d->buf, d->dma_len, &err);
        } else if (cmd == 3) {
            vus_irq_trigger(d->srv, VFIO_PCI_MSI_IRQ_INDEX, 0);
        }
        d->status = ok ? 0 : (uint32_t)err->code;
    } else if (off == TEST_DMA_CHECKED && len == TEST_DMA_CHECKED_LEN) {
        /* A DMA read, then: is the request's payload still intact? */
        uint8_t copy[TEST_DMA_CHECKED_LEN];

        memcpy(copy, buf, len);
        ok = vus_dma_read(d->srv, d->dma_addr, d->buf, d->dma_len, &err);
        d->status =
            !ok ? (uint32_t)err->code : (memcmp(copy, buf, len) ? EILSEQ : 0);
    } else if (off == 0x20) {
        d->ioevent_writes++;
        d->ioevent_value = 0;
        memcpy(&d->ioevent_value, buf, MIN(len, 8));
    } else {
        memcpy(d->scratch + off, buf, len);
    }
    return (ssize_t)len;
}

static ssize_t bar2_access(void *opaque, bool is_write, uint64_t off, void *buf,
                           size_t len)
{
    TestDev *d = opaque;

    g_assert_false(is_write); /* the library must refuse writes */
    memcpy(buf, d->bar2 + off, len);
    return (ssize_t)len;
}

static int dev_reset(void *opaque)
{
    TestDev *d = opaque;

    d->resets++;
    return d->reset_ret;
}

static void dev_connected(void *opaque)
{
    ((TestDev *)opaque)->connects++;
}

static void dev_disconnected(void *opaque)
{
    ((TestDev *)opaque)->disconnects++;
}

static void test_dev_setup(TestDev *d, VusServer *srv)
{
    static const VusSparseArea sparse[] = {{4096, 8192}};
    VusRegionDesc bar0 = {
        .size = 4096,
        .flags = VUS_REGION_F_RW,
        .access = bar0_access,
        .opaque = d,
    };
    VusRegionDesc bar1 = {
        .size = 16384,
        .flags = VUS_REGION_F_RW,
        .mem = true,
        .sparse = sparse,
        .nr_sparse = 1,
        .bar_flags = VUS_BAR_F_MEM64,
    };
    VusRegionDesc bar2 = {
        .size = 64,
        .flags = VUS_REGION_F_READ,
        .access = bar2_access,
        .opaque = d,
    };
    VusRegionDesc devreg = {
        .size = 4096,
        .flags = VUS_REGION_F_RW,
        .mem = true,
        .has_type = true,
        .type = 1,
        .subtype = 2,
    };
    VusPciDesc pci = {
        .vendor_id = 0x1234,
        .device_id = 0x11e8,
        .subsys_vendor_id = 0x1af4,
        .subsys_id = 0x1100,
        .class_code = 0x00ff00,
        .revision = 0x10,
        .intx_pin = 1,
        .msi_vectors = 4,
        .msix_vectors = 8,
        .msix_bar = 1,
        .msix_table_offset = 0,
        .msix_pba_offset = 0x800,
        .express = true,
    };
    VusDeviceOps ops = {
        .reset = dev_reset,
        .connected = dev_connected,
        .disconnected = dev_disconnected,
    };

    d->srv = srv;
    d->buf = g_malloc0(TEST_DEV_BUF_SIZE);
    for (size_t i = 0; i < sizeof(d->bar2); i++) {
        d->bar2[i] = (uint8_t)(0xa0 + i);
    }
    g_assert_true(vus_server_setup_region(srv, 0, &bar0, NULL, &error_abort));
    g_assert_true(
        vus_server_setup_region(srv, 1, &bar1, &d->bar1_mem, &error_abort));
    g_assert_true(vus_server_setup_region(srv, 3, &bar2, NULL, &error_abort));
    g_assert_true(vus_server_setup_region(srv, TEST_REGION_DEV, &devreg,
                                          &d->dev_region_mem, &error_abort));
    g_assert_true(
        vus_server_add_ioeventfd(srv, 0, 0x20, 4, true, 0x5a, &error_abort));
    g_assert_true(vus_server_setup_pci(srv, &pci, &error_abort));
    g_assert_true(
        vus_server_setup_irq(srv, VFIO_PCI_ERR_IRQ_INDEX, 1, &error_abort));
    vus_server_set_device_ops(srv, &ops, d);
}

static gpointer server_thread(gpointer opaque)
{
    TestConn *tc = opaque;
    g_autoptr(GError) err = NULL;

    tc->run_ok = vus_server_run(tc->srv, &err);
    tc->run_errno = err ? err->code : 0;
    return NULL;
}

TestConn *tc_new(const VusServerOptions *opts)
{
    TestConn *tc = g_new0(TestConn, 1);
    int sv[2];

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==,
                    0);
    tc->srv = vus_server_new(NULL, opts, &error_abort);
    g_assert_nonnull(tc->srv);
    test_dev_setup(&tc->dev, tc->srv);
    g_assert_true(vus_server_attach(tc->srv, sv[0], &error_abort));
    tc->sock = sv[1];
    tc->next_id = 100;
    tc->thread = g_thread_new("server", server_thread, tc);
    return tc;
}

void tc_negotiate(TestConn *tc, uint64_t max_xfer)
{
    VFIOUserCaps caps;

    vfio_user_caps_init_ours(&caps);
    caps.max_data_xfer_size = max_xfer;
    tc_negotiate_caps(tc, &caps);
}

void tc_negotiate_caps(TestConn *tc, const VFIOUserCaps *caps)
{
    TestReply r = {.len = 0};
    g_autofree void *payload = NULL;
    size_t len;

    payload = vfio_user_caps_build_version(caps, &len);
    g_assert_cmpint(tc_call(tc, VFIO_USER_VERSION, payload, len, NULL, 0, &r),
                    ==, 0);
    g_assert_true(vfio_user_caps_parse_version(r.data, r.len, &tc->server_caps,
                                               &error_abort));
    tc_reply_clear(&r);
}

TestConn *tc_start(const VusServerOptions *opts)
{
    TestConn *tc = tc_new(opts);

    tc_negotiate(tc, 1 << 20);
    return tc;
}

bool tc_hangup(TestConn *tc)
{
    close(tc->sock);
    tc->sock = -1;
    g_thread_join(tc->thread);
    return tc->run_ok;
}

void tc_free(TestConn *tc)
{
    vus_server_free(tc->srv);
    g_free(tc->dev.buf);
    g_free(tc);
}

bool tc_finish(TestConn *tc)
{
    bool ok = tc_hangup(tc);

    tc_free(tc);
    return ok;
}

uint16_t tc_send(TestConn *tc, uint16_t cmd, uint32_t flags,
                 const void *payload, size_t len, const int *fds, size_t nfds)
{
    VFIOUserHdr hdr;
    uint16_t id = tc->next_id++;

    vfio_user_hdr_init(&hdr, id, cmd, sizeof(hdr) + len, flags);
    g_assert_true(vfio_user_msg_send(tc->sock, &hdr, payload, len, fds, nfds,
                                     &error_abort));
    return id;
}

/* Answer a DMA_READ / DMA_WRITE from the "guest memory" buffer. */
static void serve_dma(TestConn *tc, const VFIOUserHdr *hdr, const uint8_t *body,
                      size_t len)
{
    VFIOUserDMARW rw;
    VFIOUserHdr rh;
    bool is_read = hdr->cmd == VFIO_USER_DMA_READ;
    bool ok;

    g_assert_cmpuint(len, >=, sizeof(rw));
    memcpy(&rw, body, sizeof(rw));
    ok = rw.addr >= tc->guest_base && rw.count <= tc->guest_size &&
         rw.addr - tc->guest_base <= tc->guest_size - rw.count &&
         (is_read || len == sizeof(rw) + rw.count);
    tc->dma_max_count = MAX(tc->dma_max_count, rw.count);
    if (!ok || tc->dma_errno) {
        g_assert_true(vfio_user_msg_send_error(
            tc->sock, hdr, tc->dma_errno ? tc->dma_errno : EFAULT,
            &error_abort));
        return;
    }
    vfio_user_hdr_init(&rh, hdr->id, hdr->cmd, 0, VFIO_USER_F_TYPE_REPLY);
    if (is_read) {
        struct iovec iov[3] = {
            {&rh, sizeof(rh)},
            {&rw, sizeof(rw)},
            {tc->guest + (rw.addr - tc->guest_base), rw.count},
        };

        tc->dma_reads++;
        rh.size = sizeof(rh) + sizeof(rw) + rw.count;
        g_assert_true(
            vfio_user_msg_sendv(tc->sock, iov, 3, NULL, 0, &error_abort));
    } else {
        tc->dma_writes++;
        memcpy(tc->guest + (rw.addr - tc->guest_base), body + sizeof(rw),
               rw.count);
        rh.size = sizeof(rh) + sizeof(rw);
        g_assert_true(vfio_user_msg_send(tc->sock, &rh, &rw, sizeof(rw), NULL,
                                         0, &error_abort));
    }
}

int tc_wait(TestConn *tc, uint16_t id, TestReply *out)
{
    for (;;) {
        TestReply r = {.len = 0};

        g_assert_true(tc_readable(tc, 10000));
        g_assert_true(vfio_user_msg_recv_hdr(tc->sock, &r.hdr, r.fds, &r.nfds,
                                             VFIO_USER_MAX_FDS, 64 << 20,
                                             &error_abort));
        r.len = r.hdr.size - sizeof(r.hdr);
        r.data = g_malloc0(r.len + 1);
        g_assert_true(
            vfio_user_msg_recv_body(tc->sock, r.data, r.len, &error_abort));
        if (!vfio_user_hdr_is_reply(&r.hdr)) {
            serve_dma(tc, &r.hdr, r.data, r.len);
            tc_reply_clear(&r);
            continue;
        }
        g_assert_cmpuint(r.hdr.id, ==, id);
        if (r.hdr.flags & VFIO_USER_F_ERROR) {
            int e = (int)r.hdr.error;

            g_assert_cmpint(e, !=, 0);
            g_assert_cmpuint(r.nfds, ==, 0);
            tc_reply_clear(&r);
            return e;
        }
        if (out) {
            *out = r;
        } else {
            tc_reply_clear(&r);
        }
        return 0;
    }
}

int tc_call(TestConn *tc, uint16_t cmd, const void *payload, size_t len,
            const int *fds, size_t nfds, TestReply *out)
{
    return tc_wait(tc, tc_send(tc, cmd, 0, payload, len, fds, nfds), out);
}

void tc_reply_clear(TestReply *r)
{
    vfio_user_close_fds(r->fds, r->nfds);
    r->nfds = 0;
    g_free(r->data);
    r->data = NULL;
}

bool tc_readable(TestConn *tc, int ms)
{
    return vut_readable(tc->sock, ms);
}

int tc_region_read(TestConn *tc, uint32_t index, uint64_t off, void *buf,
                   uint32_t count)
{
    VFIOUserRegionRW rw = {.offset = off, .region = index, .count = count};
    TestReply r;
    int ret = tc_call(tc, VFIO_USER_REGION_READ, &rw, sizeof(rw), NULL, 0, &r);

    if (ret) {
        return ret;
    }
    g_assert_cmpuint(r.len, ==, sizeof(rw) + count);
    memcpy(buf, r.data + sizeof(rw), count);
    tc_reply_clear(&r);
    return 0;
}

int tc_region_write(TestConn *tc, uint32_t index, uint64_t off, const void *buf,
                    uint32_t count)
{
    g_autofree uint8_t *p = g_malloc(sizeof(VFIOUserRegionRW) + count);
    VFIOUserRegionRW rw = {.offset = off, .region = index, .count = count};
    TestReply r;
    int ret;

    memcpy(p, &rw, sizeof(rw));
    memcpy(p + sizeof(rw), buf, count);
    ret =
        tc_call(tc, VFIO_USER_REGION_WRITE, p, sizeof(rw) + count, NULL, 0, &r);
    if (!ret) {
        g_assert_cmpuint(r.len, ==, sizeof(rw));
        tc_reply_clear(&r);
    }
    return ret;
}

int tc_dma_map(TestConn *tc, uint32_t flags, uint64_t offset, uint64_t addr,
               uint64_t size, int fd)
{
    VFIOUserDMAMap m = {.argsz = sizeof(m),
                        .flags = flags,
                        .offset = offset,
                        .addr = addr,
                        .size = size};

    return tc_call(tc, VFIO_USER_DMA_MAP, &m, sizeof(m), &fd, fd >= 0, NULL);
}

int tc_dma_unmap(TestConn *tc, uint32_t flags, uint64_t addr, uint64_t size)
{
    VFIOUserDMAUnmap u = {
        .argsz = sizeof(u), .flags = flags, .addr = addr, .size = size};
    TestReply r;
    int ret = tc_call(tc, VFIO_USER_DMA_UNMAP, &u, sizeof(u), NULL, 0, &r);

    if (!ret) {
        g_assert_cmpuint(r.len, ==, sizeof(u));
        g_assert_cmpmem(r.data, r.len, &u, sizeof(u));
        tc_reply_clear(&r);
    }
    return ret;
}

uint32_t tc_dev_dma(TestConn *tc, uint32_t cmd, uint64_t addr, uint32_t len)
{
    uint32_t status = 0xffffffff;

    g_assert_cmpint(tc_region_write(tc, 0, 0x00, &addr, 8), ==, 0);
    g_assert_cmpint(tc_region_write(tc, 0, 0x08, &len, 4), ==, 0);
    g_assert_cmpint(tc_region_write(tc, 0, 0x0c, &cmd, 4), ==, 0);
    g_assert_cmpint(tc_region_read(tc, 0, 0x10, &status, 4), ==, 0);
    return status;
}

int test_memfd(size_t size, uint8_t pattern)
{
    int fd = memfd_create("test-guest", MFD_CLOEXEC);
    g_autofree uint8_t *buf = g_malloc(size);

    g_assert_cmpint(fd, >=, 0);
    for (size_t i = 0; i < size; i++) {
        buf[i] = (uint8_t)(pattern + i);
    }
    g_assert_cmpint(pwrite(fd, buf, size, 0), ==, (ssize_t)size);
    return fd;
}

void send_version(TestConn *tc, uint16_t major, uint16_t minor, TestReply *r,
                  int expect)
{
    VFIOUserCaps caps;
    g_autofree uint8_t *p = NULL;
    size_t len;

    vfio_user_caps_init_ours(&caps);
    caps.major = major;
    caps.minor = minor;
    p = vfio_user_caps_build_version(&caps, &len);
    g_assert_cmpint(tc_call(tc, VFIO_USER_VERSION, p, len, NULL, 0, r), ==,
                    expect);
}

/* The server closed its end: we read EOF. */
void assert_closed(TestConn *tc)
{
    char c;

    g_assert_true(tc_readable(tc, 10000));
    g_assert_cmpint(recv(tc->sock, &c, 1, 0), ==, 0);
}

int region_info(TestConn *tc, uint32_t index, uint32_t argsz, TestReply *r)
{
    VFIOUserRegionInfo ri = {.argsz = argsz, .index = index};

    return tc_call(tc, VFIO_USER_DEVICE_GET_REGION_INFO, &ri, sizeof(ri), NULL,
                   0, r);
}

int write_multi(TestConn *tc, const VFIOUserWriteMultiEntry *e, uint64_t n,
                uint64_t claim)
{
    g_autofree uint8_t *p = g_malloc0(8 + n * sizeof(*e));
    TestReply r;
    uint64_t done;
    int ret;

    memcpy(p, &claim, 8);
    memcpy(p + 8, e, n * sizeof(*e));
    ret = tc_call(tc, VFIO_USER_REGION_WRITE_MULTI, p, 8 + n * sizeof(*e), NULL,
                  0, &r);
    if (!ret) {
        memcpy(&done, r.data, 8);
        g_assert_cmpuint(done, ==, n);
        tc_reply_clear(&r);
    }
    return ret;
}

uint32_t cfg_read32(TestConn *tc, uint64_t off)
{
    uint32_t v = 0;

    g_assert_cmpint(
        tc_region_read(tc, VFIO_PCI_CONFIG_REGION_INDEX, off, &v, 4), ==, 0);
    return v;
}

void cfg_write32(TestConn *tc, uint64_t off, uint32_t v)
{
    g_assert_cmpint(
        tc_region_write(tc, VFIO_PCI_CONFIG_REGION_INDEX, off, &v, 4), ==, 0);
}

int irq_info(TestConn *tc, uint32_t index, uint32_t *count)
{
    VFIOUserIrqInfo ii = {.argsz = sizeof(ii), .index = index};
    TestReply r;
    int ret = tc_call(tc, VFIO_USER_DEVICE_GET_IRQ_INFO, &ii, sizeof(ii), NULL,
                      0, &r);

    if (!ret) {
        memcpy(&ii, r.data, sizeof(ii));
        g_assert_cmpuint(ii.index, ==, index);
        g_assert_true(ii.flags & VFIO_IRQ_INFO_EVENTFD);
        *count = ii.count;
        tc_reply_clear(&r);
    }
    return ret;
}

int set_irqs(TestConn *tc, uint32_t flags, uint32_t index, uint32_t start,
             uint32_t count, const uint8_t *bools, const int *fds, size_t nfds)
{
    uint8_t buf[sizeof(VFIOUserIrqSet) + 64];
    VFIOUserIrqSet s = {.argsz = sizeof(s) + (bools ? count : 0),
                        .flags = flags,
                        .index = index,
                        .start = start,
                        .count = count};

    memcpy(buf, &s, sizeof(s));
    if (bools) {
        memcpy(buf + sizeof(s), bools, count);
    }
    return tc_call(tc, VFIO_USER_DEVICE_SET_IRQS, buf, s.argsz, fds, nfds,
                   NULL);
}

bool efd_fired(int fd)
{
    uint64_t v;

    if (!vut_readable(fd, 0)) {
        return false;
    }
    g_assert_cmpint(read(fd, &v, 8), ==, 8);
    return true;
}
