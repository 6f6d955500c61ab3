/*
 * The fake server behind tests/unit/test-container.c (see the header).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "fake-dma-server.h"
#include "vfu-test.h"
#include "vfio-user/caps.h"
#include "vfio-user/protocol.h"
#include "vfio-user/transport.h"

#define FAKE_MAX_MSG (16 + 16 + 2 * 1024 * 1024)
#define FAKE_TIMEOUT_MS 5000

/*
 * lock guards maps, unmaps and the reply slot (have_reply, reply_*),
 * closed; cond signals a new reply or the close.  send_lock serialises
 * writes to sock (server thread replies, test thread requests).
 */
struct FakeServer {
    int sock;
    FakeConfig cfg;
    GThread *thread;
    GMutex lock;
    GCond cond;
    GMutex send_lock;
    GArray *maps;   /* FakeMap */
    GArray *unmaps; /* uint64_t pairs: addr, size */
    bool closed;
    bool have_reply;
    VFIOUserHdr reply_hdr;
    uint8_t *reply_data;
    size_t reply_len;
    uint16_t next_id;
};

static void fake_send(FakeServer *fs, const VFIOUserHdr *hdr,
                      const void *payload, size_t len, const int *fds,
                      size_t nfds)
{
    g_autoptr(GError) err = NULL;

    g_mutex_lock(&fs->send_lock);
    if (!vfio_user_msg_send(fs->sock, hdr, payload, len, fds, nfds, &err)) {
        g_test_message("fake server send: %s", err->message);
    }
    g_mutex_unlock(&fs->send_lock);
}

static void fake_reply(FakeServer *fs, const VFIOUserHdr *req, int errnum,
                       const void *payload, size_t len)
{
    VFIOUserHdr hdr;

    if (errnum) {
        vfio_user_hdr_init(&hdr, req->id, req->cmd, sizeof(hdr),
                           VFIO_USER_F_TYPE_REPLY | VFIO_USER_F_ERROR);
        hdr.error = errnum;
        fake_send(fs, &hdr, NULL, 0, NULL, 0);
        return;
    }
    vfio_user_hdr_init(&hdr, req->id, req->cmd, sizeof(hdr) + len,
                       VFIO_USER_F_TYPE_REPLY);
    fake_send(fs, &hdr, payload, len, NULL, 0);
}

static void fake_version(FakeServer *fs, const VFIOUserHdr *req)
{
    VFIOUserCaps caps;
    g_autofree void *v = NULL;
    size_t len;

    vfio_user_caps_init_ours(&caps);
    caps.max_data_xfer_size = fs->cfg.max_xfer ? fs->cfg.max_xfer : 65536;
    if (fs->cfg.max_dma_maps) {
        caps.max_dma_maps = fs->cfg.max_dma_maps;
    }
    if (fs->cfg.no_fds) {
        caps.max_msg_fds = 0;
    }
    v = vfio_user_caps_build_version(&caps, &len);
    fake_reply(fs, req, 0, v, len);
}

static void fake_dma_map(FakeServer *fs, const VFIOUserHdr *req,
                         const uint8_t *buf, size_t len, int *fds, size_t nfds)
{
    FakeMap m = {.fd = -1, .nfds = nfds};
    VFIOUserDMAMap dm;
    unsigned nth;

    g_assert_cmpuint(len, ==, sizeof(dm));
    memcpy(&dm, buf, sizeof(dm));
    m.flags = dm.flags;
    m.offset = dm.offset;
    m.addr = dm.addr;
    m.size = dm.size;
    if (nfds) {
        g_assert_cmpint(fstat(fds[0], &m.st), ==, 0);
        m.fd = fds[0];
        fds[0] = -1;
    }
    g_mutex_lock(&fs->lock);
    nth = fs->maps->len + 1;
    g_mutex_unlock(&fs->lock);
    if (fs->cfg.legacy &&
        (dm.flags & ~(VFIO_USER_DMA_MAP_F_READ | VFIO_USER_DMA_MAP_F_WRITE))) {
        m.reply_errno = EINVAL;
    } else if (fs->cfg.fail_nth && nth == fs->cfg.fail_nth) {
        m.reply_errno = fs->cfg.fail_errno;
    } else if ((dm.flags & VFIO_USER_DMA_MAP_F_MODE_MMAP) &&
               fs->cfg.mmap_errno) {
        m.reply_errno = fs->cfg.mmap_errno;
    } else if ((dm.flags & VFIO_USER_DMA_MAP_F_MODE_FILE_IO) &&
               fs->cfg.file_io_errno) {
        m.reply_errno = fs->cfg.file_io_errno;
    } else {
        m.reply_errno = fs->cfg.map_errno;
    }
    if (m.reply_errno && m.fd >= 0) {
        close(m.fd);
        m.fd = -1;
    }
    g_mutex_lock(&fs->lock);
    g_array_append_val(fs->maps, m);
    g_mutex_unlock(&fs->lock);
    fake_reply(fs, req, m.reply_errno, NULL, 0);
}

static void fake_dma_unmap(FakeServer *fs, const VFIOUserHdr *req,
                           const uint8_t *buf, size_t len)
{
    VFIOUserDMAUnmap u;

    g_assert_cmpuint(len, ==, sizeof(u));
    memcpy(&u, buf, sizeof(u));
    g_mutex_lock(&fs->lock);
    g_array_append_val(fs->unmaps, u.addr);
    g_array_append_val(fs->unmaps, u.size);
    for (guint i = 0; i < fs->maps->len; i++) {
        FakeMap *m = &g_array_index(fs->maps, FakeMap, i);
        if (m->addr == u.addr && m->fd >= 0 && !m->reply_errno) {
            close(m->fd);
            m->fd = -1;
        }
    }
    g_mutex_unlock(&fs->lock);
    fake_reply(fs, req, 0, &u, sizeof(u));
}

/* Hand a reply to the test thread waiting in fake_server_request(). */
static void fake_take_reply(FakeServer *fs, const VFIOUserHdr *hdr,
                            uint8_t *buf, size_t len)
{
    g_mutex_lock(&fs->lock);
    g_free(fs->reply_data);
    fs->reply_hdr = *hdr;
    fs->reply_data = buf;
    fs->reply_len = len;
    fs->have_reply = true;
    g_cond_broadcast(&fs->cond);
    g_mutex_unlock(&fs->lock);
}

static gpointer fake_thread(gpointer opaque)
{
    FakeServer *fs = opaque;

    for (;;) {
        g_autoptr(GError) err = NULL;
        int fds[VFIO_USER_MAX_FDS];
        size_t nfds = 0, len;
        VFIOUserHdr hdr;
        uint8_t *buf;

        if (!vfio_user_msg_recv_hdr(fs->sock, &hdr, fds, &nfds,
                                    VFIO_USER_MAX_FDS, FAKE_MAX_MSG, &err)) {
            break;
        }
        len = hdr.size - sizeof(hdr);
        buf = g_malloc(len + 1);
        if (!vfio_user_msg_recv_body(fs->sock, buf, len, &err)) {
            vfio_user_close_fds(fds, nfds);
            g_free(buf);
            break;
        }
        if (vfio_user_hdr_is_reply(&hdr)) {
            fake_take_reply(fs, &hdr, buf, len);
            buf = NULL;
        } else if (hdr.cmd == VFIO_USER_VERSION) {
            fake_version(fs, &hdr);
        } else if (hdr.cmd == VFIO_USER_DMA_MAP) {
            fake_dma_map(fs, &hdr, buf, len, fds, nfds);
        } else if (hdr.cmd == VFIO_USER_DMA_UNMAP) {
            fake_dma_unmap(fs, &hdr, buf, len);
        } else {
            fake_reply(fs, &hdr, ENOSYS, NULL, 0);
        }
        vfio_user_close_fds(fds, nfds);
        g_free(buf);
    }
    g_mutex_lock(&fs->lock);
    fs->closed = true;
    g_cond_broadcast(&fs->cond);
    g_mutex_unlock(&fs->lock);
    return NULL;
}

FakeServer *fake_server_new(const FakeConfig *cfg, int *client_sock)
{
    FakeServer *fs = g_new0(FakeServer, 1);
    int sv[2];

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==,
                    0);
    fs->sock = sv[0];
    *client_sock = sv[1];
    if (cfg) {
        fs->cfg = *cfg;
    }
    g_mutex_init(&fs->lock);
    g_cond_init(&fs->cond);
    g_mutex_init(&fs->send_lock);
    fs->maps = g_array_new(FALSE, FALSE, sizeof(FakeMap));
    fs->unmaps = g_array_new(FALSE, FALSE, sizeof(uint64_t));
    fs->next_id = 0x7000;
    fs->thread = g_thread_new("fake-server", fake_thread, fs);
    return fs;
}

void fake_server_free(FakeServer *fs)
{
    shutdown(fs->sock, SHUT_RDWR);
    g_thread_join(fs->thread);
    close(fs->sock);
    for (guint i = 0; i < fs->maps->len; i++) {
        FakeMap *m = &g_array_index(fs->maps, FakeMap, i);
        if (m->fd >= 0) {
            close(m->fd);
        }
    }
    g_array_free(fs->maps, TRUE);
    g_array_free(fs->unmaps, TRUE);
    g_free(fs->reply_data);
    g_mutex_clear(&fs->lock);
    g_cond_clear(&fs->cond);
    g_mutex_clear(&fs->send_lock);
    g_free(fs);
}

size_t fake_server_nmaps(FakeServer *fs)
{
    size_t n;

    g_mutex_lock(&fs->lock);
    n = fs->maps->len;
    g_mutex_unlock(&fs->lock);
    return n;
}

FakeMap fake_server_map(FakeServer *fs, size_t i)
{
    FakeMap m;

    g_mutex_lock(&fs->lock);
    g_assert_cmpuint(i, <, fs->maps->len);
    m = g_array_index(fs->maps, FakeMap, i);
    g_mutex_unlock(&fs->lock);
    return m;
}

size_t fake_server_nunmaps(FakeServer *fs)
{
    size_t n;

    g_mutex_lock(&fs->lock);
    n = fs->unmaps->len / 2;
    g_mutex_unlock(&fs->lock);
    return n;
}

void fake_server_unmap(FakeServer *fs, size_t i, uint64_t *addr, uint64_t *size)
{
    g_mutex_lock(&fs->lock);
    g_assert_cmpuint(i, <, fs->unmaps->len / 2);
    *addr = g_array_index(fs->unmaps, uint64_t, 2 * i);
    *size = g_array_index(fs->unmaps, uint64_t, 2 * i + 1);
    g_mutex_unlock(&fs->lock);
}

int fake_server_request(FakeServer *fs, uint16_t cmd, const void *payload,
                        size_t len, const int *fds, size_t nfds, void *reply,
                        size_t max, size_t *reply_len)
{
    gint64 deadline = vut_deadline_ms(FAKE_TIMEOUT_MS);
    VFIOUserHdr hdr;
    int ret = -1;

    g_mutex_lock(&fs->lock);
    fs->have_reply = false;
    vfio_user_hdr_init(&hdr, fs->next_id++, cmd, sizeof(hdr) + len,
                       VFIO_USER_F_TYPE_REQUEST);
    g_mutex_unlock(&fs->lock);
    fake_send(fs, &hdr, payload, len, fds, nfds);

    g_mutex_lock(&fs->lock);
    while (!fs->have_reply && !fs->closed) {
        if (!g_cond_wait_until(&fs->cond, &fs->lock, deadline)) {
            break;
        }
    }
    if (fs->have_reply) {
        g_assert_cmpuint(fs->reply_hdr.id, ==, hdr.id);
        g_assert_cmpuint(fs->reply_hdr.cmd, ==, cmd);
        ret = (fs->reply_hdr.flags & VFIO_USER_F_ERROR)
                  ? (int)fs->reply_hdr.error
                  : 0;
        if (reply_len) {
            *reply_len = fs->reply_len;
        }
        if (reply) {
            memcpy(reply, fs->reply_data, MIN(max, fs->reply_len));
        }
        fs->have_reply = false;
    }
    g_mutex_unlock(&fs->lock);
    return ret;
}

int fake_server_dma_read(FakeServer *fs, uint64_t addr, uint64_t count,
                         void *buf)
{
    VFIOUserDMARW rw = {.addr = addr, .count = count};
    g_autofree uint8_t *rep = g_malloc(sizeof(rw) + count);
    size_t len = 0;
    int ret;

    ret = fake_server_request(fs, VFIO_USER_DMA_READ, &rw, sizeof(rw), NULL, 0,
                              rep, sizeof(rw) + count, &len);
    if (ret == 0) {
        VFIOUserDMARW echo;
        g_assert_cmpuint(len, ==, sizeof(rw) + count);
        memcpy(&echo, rep, sizeof(echo));
        g_assert_cmpuint(echo.addr, ==, addr);
        g_assert_cmpuint(echo.count, ==, count);
        memcpy(buf, rep + sizeof(rw), count);
    }
    return ret;
}

int fake_server_dma_write(FakeServer *fs, uint64_t addr, uint64_t count,
                          const void *data)
{
    VFIOUserDMARW rw = {.addr = addr, .count = count};
    g_autofree uint8_t *msg = g_malloc(sizeof(rw) + count);
    VFIOUserDMARW echo;
    size_t len = 0;
    int ret;

    memcpy(msg, &rw, sizeof(rw));
    memcpy(msg + sizeof(rw), data, count);
    ret = fake_server_request(fs, VFIO_USER_DMA_WRITE, msg, sizeof(rw) + count,
                              NULL, 0, &echo, sizeof(echo), &len);
    if (ret == 0) {
        g_assert_cmpuint(len, ==, sizeof(echo));
        g_assert_cmpuint(echo.addr, ==, addr);
        g_assert_cmpuint(echo.count, ==, count);
    }
    return ret;
}

bool fake_server_wait_closed(FakeServer *fs)
{
    gint64 deadline = vut_deadline_ms(FAKE_TIMEOUT_MS);
    bool closed;

    g_mutex_lock(&fs->lock);
    while (!fs->closed) {
        if (!g_cond_wait_until(&fs->cond, &fs->lock, deadline)) {
            break;
        }
    }
    closed = fs->closed;
    g_mutex_unlock(&fs->lock);
    return closed;
}
