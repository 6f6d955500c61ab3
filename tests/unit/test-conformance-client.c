/*
 * Spec conformance of the client device layer: a scripted peer on a
 * socketpair answers like a conforming server that differs from ours
 * (48-byte GET_REGION_IO_FDS entries, ioeventfds for port I/O, a device
 * without VFIO_DEVICE_FLAGS_RESET) and records what the client sends.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include "hw/vfio-user/device.h"
#include "hw/vfio-user/proxy.h"
#include "vfio-user/caps.h"
#include "vfio-user/transport.h"
#include "vfu-test.h"

#define PEER_ENTRY 48 /* IO_FDS entry size of the peer */
#define PEER_NR_IO 3

typedef struct Peer {
    int sock;
    GThread *thread;
    uint32_t dev_flags;
    int efd; /* the ioeventfd handed out (peer's copy) */
    GMutex lock;
    unsigned cmds[VFIO_USER_MAX_COMMAND]; /* under lock */
    char version_json[1024];              /* client's proposal */
} Peer;

static bool peer_reply(Peer *p, const VFIOUserHdr *req, const void *data,
                       size_t len, const int *fds, size_t nfds)
{
    VFIOUserHdr h;

    vfio_user_hdr_init(&h, req->id, req->cmd, sizeof(h) + len,
                       VFIO_USER_F_TYPE_REPLY);
    return vfio_user_msg_send(p->sock, &h, data, len, fds, nfds, NULL);
}

/* Entries of 48 bytes: plain, datamatch, and a port I/O one. */
static bool peer_io_fds(Peer *p, const VFIOUserHdr *req, const uint8_t *q,
                        size_t len)
{
    uint8_t buf[sizeof(VFIOUserRegionIOFds) + PEER_NR_IO * PEER_ENTRY] = {0};
    VFIOUserRegionIOFds h = {.argsz = sizeof(buf), .count = PEER_NR_IO};
    VFIOUserSubRegionIOFd e[PEER_NR_IO] = {
        {.offset = 0x10, .size = 4},
        {.offset = 0x20,
         .size = 2,
         .flags = VFIO_USER_IOEVENTFD_F_DATAMATCH,
         .datamatch = 0xbeef},
        {.offset = 0x30, .size = 1, .flags = VFIO_USER_IOEVENTFD_F_PIO},
    };
    VFIOUserRegionIOFds in;

    g_assert_cmpuint(len, >=, sizeof(in));
    memcpy(&in, q, sizeof(in));
    h.index = in.index;
    memcpy(buf, &h, sizeof(h));
    if (in.argsz < sizeof(buf)) {
        /* Like ours: the fixed part says how much room is needed. */
        h.count = PEER_NR_IO;
        return peer_reply(p, req, &h, sizeof(h), NULL, 0);
    }
    for (int i = 0; i < PEER_NR_IO; i++) {
        memcpy(buf + sizeof(h) + i * PEER_ENTRY, &e[i], sizeof(e[i]));
        /* The 8 bytes beyond our 40 carry junk a client must ignore. */
        memset(buf + sizeof(h) + i * PEER_ENTRY + sizeof(e[i]), 0xee,
               PEER_ENTRY - sizeof(e[i]));
    }
    return peer_reply(p, req, buf, sizeof(buf), &p->efd, 1);
}

static bool peer_handle(Peer *p, const VFIOUserHdr *req, uint8_t *q, size_t len)
{
    VFIOUserDeviceInfo di = {sizeof(di), p->dev_flags, 9, 5};
    VFIOUserRegionInfo ri;
    VFIOUserCaps caps;
    g_autofree void *ver = NULL;
    size_t vlen;

    switch (req->cmd) {
    case VFIO_USER_VERSION:
        g_strlcpy(p->version_json, (char *)q + 4,
                  MIN(sizeof(p->version_json), len > 4 ? len - 3 : 1));
        vfio_user_caps_init_ours(&caps);
        ver = vfio_user_caps_build_version(&caps, &vlen);
        return peer_reply(p, req, ver, vlen, NULL, 0);
    case VFIO_USER_DEVICE_GET_INFO:
        return peer_reply(p, req, &di, sizeof(di), NULL, 0);
    case VFIO_USER_DEVICE_GET_REGION_INFO:
        memcpy(&ri, q, sizeof(ri));
        ri.argsz = sizeof(ri);
        ri.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
        ri.size = 4096;
        ri.cap_offset = 0;
        ri.offset = 0;
        return peer_reply(p, req, &ri, sizeof(ri), NULL, 0);
    case VFIO_USER_DEVICE_GET_REGION_IO_FDS:
        return peer_io_fds(p, req, q, len);
    default:
        if (req->flags & VFIO_USER_F_NO_REPLY) {
            return true;
        }
        return peer_reply(p, req, NULL, 0, NULL, 0);
    }
}

static gpointer peer_thread(gpointer opaque)
{
    Peer *p = opaque;

    for (;;) {
        VFIOUserHdr hdr;
        int fds[VFIO_USER_MAX_FDS];
        size_t nfds = 0, len;
        g_autofree uint8_t *q = NULL;

        if (!vfio_user_msg_recv_hdr(p->sock, &hdr, fds, &nfds,
                                    VFIO_USER_MAX_FDS, 1 << 21, NULL)) {
            break;
        }
        vfio_user_close_fds(fds, nfds);
        len = hdr.size - sizeof(hdr);
        q = g_malloc0(len + 1);
        if (!vfio_user_msg_recv_body(p->sock, q, len, NULL)) {
            break;
        }
        g_mutex_lock(&p->lock);
        if (hdr.cmd < VFIO_USER_MAX_COMMAND) {
            p->cmds[hdr.cmd]++;
        }
        g_mutex_unlock(&p->lock);
        if (!peer_handle(p, &hdr, q, len)) {
            break;
        }
    }
    return NULL;
}

static VFIOUserProxy *peer_start(Peer *p, uint32_t dev_flags)
{
    VFIOUserProxyOptions opts;
    g_autoptr(GError) err = NULL;
    VFIOUserProxy *proxy;
    int sv[2];

    memset(p, 0, sizeof(*p));
    g_mutex_init(&p->lock);
    p->dev_flags = dev_flags;
    p->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==,
                    0);
    p->sock = sv[1];
    p->thread = g_thread_new("peer", peer_thread, p);
    vfio_user_proxy_options_init(&opts);
    proxy = vfio_user_proxy_new_from_fd(sv[0], &opts, &err);
    g_assert_no_error(err);
    return proxy;
}

static void peer_stop(Peer *p, VFIOUserProxy *proxy)
{
    vfio_user_proxy_close(proxy);
    shutdown(p->sock, SHUT_RDWR);
    g_thread_join(p->thread);
    close(p->sock);
    close(p->efd);
    g_mutex_clear(&p->lock);
}

static unsigned peer_count(Peer *p, uint16_t cmd)
{
    unsigned n;

    g_mutex_lock(&p->lock);
    n = p->cmds[cmd];
    g_mutex_unlock(&p->lock);
    return n;
}

static uint64_t efd_take(int fd)
{
    uint64_t v = 0;

    return read(fd, &v, sizeof(v)) == sizeof(v) ? v : 0;
}

/* Point 2: 48-byte entries, the stride taken from argsz, PIO accepted. */
static void test_io_fds_48_byte_entries(void)
{
    g_autoptr(GError) err = NULL;
    VFIOUserDevice dev;
    VFIOUserProxy *proxy;
    uint32_t v4 = 1;
    uint16_t v2 = 0xbeef;
    uint8_t v1 = 7;
    Peer p;

    proxy = peer_start(&p, VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET);
    g_assert_true(vfio_user_device_init(&dev, proxy, &err));
    g_assert_no_error(err);
    g_assert_true(vfio_user_device_get_region_io_fds(&dev, 0, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(dev.regions[0].nr_ioeventfds, ==, PEER_NR_IO);
    g_assert_cmphex(dev.regions[0].ioeventfds[1].datamatch, ==, 0xbeef);
    /* Each write signals the eventfd instead of becoming a message. */
    g_assert_true(vfio_user_region_write(&dev, 0, 0x10, &v4, 4, true, &err));
    g_assert_cmpuint(efd_take(p.efd), ==, 1);
    g_assert_true(vfio_user_region_write(&dev, 0, 0x20, &v2, 2, true, &err));
    g_assert_cmpuint(efd_take(p.efd), ==, 1);
    g_assert_true(vfio_user_region_write(&dev, 0, 0x30, &v1, 1, true, &err));
    g_assert_cmpuint(efd_take(p.efd), ==, 1);
    g_assert_no_error(err);
    vfio_user_device_cleanup(&dev);
    g_assert_cmpuint(peer_count(&p, VFIO_USER_REGION_WRITE), ==, 0);
    peer_stop(&p, proxy);
}

/*
 * Point 4: our client always asks for error replies to failed posted
 * requests (our extension), so it can count them; a server that does not
 * know the key ignores it.
 */
static void test_client_asks_posted_errors(void)
{
    VFIOUserProxy *proxy;
    Peer p;

    proxy = peer_start(&p, VFIO_DEVICE_FLAGS_PCI);
    g_assert_nonnull(strstr(p.version_json, "\"x-vfu-posted-errors\":true"));
    g_assert_true(vfio_user_proxy_caps(proxy)->posted_errors);
    peer_stop(&p, proxy);
}

/* Point 7: DEVICE_RESET only for a device with VFIO_DEVICE_FLAGS_RESET. */
static void test_reset_only_when_flagged(void)
{
    for (int flagged = 0; flagged < 2; flagged++) {
        g_autoptr(GError) err = NULL;
        VFIOUserDevice dev;
        VFIOUserProxy *proxy;
        Peer p;

        proxy = peer_start(&p, VFIO_DEVICE_FLAGS_PCI |
                                   (flagged ? VFIO_DEVICE_FLAGS_RESET : 0));
        g_assert_true(vfio_user_device_init(&dev, proxy, &err));
        g_assert_true(vfio_user_device_reset(&dev, &err));
        g_assert_no_error(err);
        g_assert_cmpuint(peer_count(&p, VFIO_USER_DEVICE_RESET), ==, flagged);
        vfio_user_device_cleanup(&dev);
        peer_stop(&p, proxy);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/conformance/client/io-fds/48-byte-entries",
                    test_io_fds_48_byte_entries);
    g_test_add_func("/conformance/client/version/asks-posted-errors",
                    test_client_asks_posted_errors);
    g_test_add_func("/conformance/client/reset/only-when-flagged",
                    test_reset_only_when_flagged);
    return g_test_run();
}
