/*
 * The fake device server behind tests/unit/test-device.c (see the header).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include "vfio-user/transport.h"
#include "fake-device-server.h"
#include "vfu-test.h"

#define FAKE_MAX_MSG (1u << 24)

FakeServer *fake_server_new(void)
{
    FakeServer *fs = g_new0(FakeServer, 1);

    fs->sock = -1;
    fs->io_region = -1;
    fs->io_efd = -1;
    vfio_user_caps_init_ours(&fs->caps);
    fs->caps.max_msg_fds = 8;
    fs->dev_flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET;
    fs->num_regions = VFIO_PCI_NUM_REGIONS;
    fs->num_irqs = 5;
    fs->irq_count[VFIO_PCI_INTX_IRQ_INDEX] = 1;
    fs->irq_count[VFIO_PCI_MSIX_IRQ_INDEX] = 32;
    for (unsigned i = 0; i < FAKE_MAX_REGIONS; i++) {
        fs->regions[i].memfd = -1;
    }
    for (unsigned i = 0; i < FAKE_MAX_VECTORS; i++) {
        fs->irq_efds[i] = -1;
    }
    g_mutex_init(&fs->lock);
    return fs;
}

void fake_region_mem(FakeServer *fs, unsigned idx, uint64_t size)
{
    FakeRegion *r = &fs->regions[idx];

    r->flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
    r->size = size;
    r->mem = g_malloc0(size);
}

void fake_region_memfd(FakeServer *fs, unsigned idx, uint64_t size,
                       uint64_t fd_offset)
{
    FakeRegion *r = &fs->regions[idx];

    r->flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
               VFIO_REGION_INFO_FLAG_MMAP;
    r->size = size;
    r->fd_offset = fd_offset;
    r->map_len = fd_offset + size;
    r->memfd = memfd_create("fake-region", MFD_CLOEXEC);
    g_assert_cmpint(r->memfd, >=, 0);
    g_assert_cmpint(ftruncate(r->memfd, r->map_len), ==, 0);
    r->map =
        mmap(NULL, r->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, r->memfd, 0);
    g_assert(r->map != MAP_FAILED);
    r->mem = (uint8_t *)r->map + fd_offset;
}

void fake_region_sparse(FakeServer *fs, unsigned idx, uint32_t nr,
                        const VFIOUserSparseArea *areas)
{
    g_assert_cmpuint(nr, <=, FAKE_MAX_AREAS);
    fs->regions[idx].nr_areas = nr;
    memcpy(fs->regions[idx].areas, areas, nr * sizeof(areas[0]));
}

void fake_region_raw(FakeServer *fs, unsigned idx, const void *raw, size_t len,
                     bool with_fd)
{
    fs->regions[idx].raw = g_memdup2(raw, len);
    fs->regions[idx].raw_len = len;
    fs->regions[idx].raw_fd = with_fd;
}

/* The server's side of a recorded session; NULL for the client's. */
static FakeReplayMsg *replay_from_record(const VutRecord *r)
{
    FakeReplayMsg *m;

    if (r->c2s) {
        return NULL;
    }
    g_assert(!r->truncated);
    m = g_new0(FakeReplayMsg, 1);
    m->cmd = r->hdr.cmd;
    m->flags = VFIO_USER_F_TYPE_REPLY | (r->hdr.flags & VFIO_USER_F_ERROR);
    m->error = r->hdr.error;
    m->len = g_bytes_get_size(r->payload);
    m->payload = g_malloc0(m->len + 1);
    memcpy(m->payload, g_bytes_get_data(r->payload, NULL), m->len);
    return m;
}

static void replay_free(gpointer p)
{
    FakeReplayMsg *m = p;

    g_free(m->payload);
    g_free(m);
}

void fake_server_load_replay(FakeServer *fs, const char *path)
{
    g_autoptr(GPtrArray) recs = vut_load_session(path);

    fs->replay = g_ptr_array_new_with_free_func(replay_free);
    for (guint i = 0; i < recs->len; i++) {
        FakeReplayMsg *m = replay_from_record(g_ptr_array_index(recs, i));

        if (m) {
            g_ptr_array_add(fs->replay, m);
        }
    }
}

/* ---- the server thread ---- */

static bool fake_send(FakeServer *fs, const VFIOUserHdr *req,
                      const void *payload, size_t len, const int *fds,
                      size_t nfds)
{
    VFIOUserHdr h;

    if (req->flags & VFIO_USER_F_NO_REPLY) {
        return true;
    }
    vfio_user_hdr_init(&h, req->id, req->cmd, sizeof(h) + len,
                       VFIO_USER_F_TYPE_REPLY);
    return vfio_user_msg_send(fs->sock, &h, payload, len, fds, nfds, NULL);
}

static bool fake_error(FakeServer *fs, const VFIOUserHdr *req, int err)
{
    if (req->flags & VFIO_USER_F_NO_REPLY) {
        return true;
    }
    return vfio_user_msg_send_error(fs->sock, req, err, NULL);
}

static bool fake_replay(FakeServer *fs, const VFIOUserHdr *req)
{
    FakeReplayMsg *m = NULL;
    VFIOUserHdr h;

    g_mutex_lock(&fs->lock);
    if (fs->replay_pos < fs->replay->len) {
        m = g_ptr_array_index(fs->replay, fs->replay_pos++);
    }
    if (!m || m->cmd != req->cmd) {
        fs->replay_mismatches++;
        m = NULL;
    }
    g_mutex_unlock(&fs->lock);
    if (!m) {
        return fake_error(fs, req, ENOTSUP);
    }
    vfio_user_hdr_init(&h, req->id, m->cmd, sizeof(h) + m->len, m->flags);
    h.error = m->error;
    return vfio_user_msg_send(fs->sock, &h, m->payload, m->len, NULL, 0, NULL);
}

static bool fake_region_info(FakeServer *fs, const VFIOUserHdr *req,
                             const uint8_t *p, size_t len)
{
    VFIOUserRegionInfo q, *info;
    g_autofree uint8_t *buf = NULL;
    FakeRegion *r;
    size_t need;
    int fd = -1;
    bool ok;

    if (len < sizeof(q)) {
        return fake_error(fs, req, EINVAL);
    }
    memcpy(&q, p, sizeof(q));
    if (q.index >= fs->num_regions || q.index >= FAKE_MAX_REGIONS) {
        return fake_error(fs, req, EINVAL);
    }
    r = &fs->regions[q.index];
    g_mutex_lock(&fs->lock);
    if (fs->info_calls[q.index] < FAKE_MAX_INFO_CALLS) {
        fs->info_argsz[q.index][fs->info_calls[q.index]] = q.argsz;
    }
    fs->info_calls[q.index]++;
    g_mutex_unlock(&fs->lock);
    if (r->raw) {
        fd = r->raw_fd ? memfd_create("fake-raw", MFD_CLOEXEC) : -1;
        ok = fake_send(fs, req, r->raw, r->raw_len, &fd, fd >= 0);
        vfio_user_close_fds(&fd, 1);
        return ok;
    }
    need = sizeof(*info) + (r->nr_areas
                                ? sizeof(VFIOUserCapSparseMmap) +
                                      r->nr_areas * sizeof(VFIOUserSparseArea)
                                : 0);
    buf = g_malloc0(need);
    info = (VFIOUserRegionInfo *)buf;
    info->argsz = need;
    info->flags = r->flags;
    info->index = q.index;
    info->size = r->size;
    info->offset = r->fd_offset;
    if (q.argsz < need) {
        /* Too little room: only the fixed part, argsz says what is needed. */
        return fake_send(fs, req, buf, sizeof(*info), NULL, 0);
    }
    if (r->nr_areas) {
        VFIOUserCapSparseMmap *cap = (void *)(buf + sizeof(*info));

        info->flags |= VFIO_REGION_INFO_FLAG_CAPS;
        info->cap_offset = sizeof(*info);
        cap->hdr.id = VFIO_REGION_INFO_CAP_SPARSE_MMAP;
        cap->hdr.version = 1;
        cap->nr_areas = r->nr_areas;
        memcpy(cap->areas, r->areas, r->nr_areas * sizeof(r->areas[0]));
    }
    fd = r->memfd;
    return fake_send(fs, req, buf, need, &fd, fd >= 0);
}

static bool fake_region_rw(FakeServer *fs, const VFIOUserHdr *req,
                           const uint8_t *p, size_t len)
{
    VFIOUserRegionRW rw;
    g_autofree uint8_t *out = NULL;
    bool write = req->cmd == VFIO_USER_REGION_WRITE;
    FakeRegion *r;

    if (len < sizeof(rw)) {
        return fake_error(fs, req, EINVAL);
    }
    memcpy(&rw, p, sizeof(rw));
    if (rw.region >= FAKE_MAX_REGIONS || !fs->regions[rw.region].mem ||
        rw.offset > fs->regions[rw.region].size ||
        rw.count > fs->regions[rw.region].size - rw.offset ||
        (write && len != sizeof(rw) + rw.count)) {
        return fake_error(fs, req, EINVAL);
    }
    r = &fs->regions[rw.region];
    g_mutex_lock(&fs->lock);
    if (write) {
        fs->writes[rw.region]++;
        fs->posted[rw.region] += !!(req->flags & VFIO_USER_F_NO_REPLY);
        memcpy(r->mem + rw.offset, p + sizeof(rw), rw.count);
    } else {
        fs->reads[rw.region]++;
        fs->max_read_count = MAX(fs->max_read_count, rw.count);
    }
    g_mutex_unlock(&fs->lock);
    if (write) {
        return fake_send(fs, req, &rw, sizeof(rw), NULL, 0);
    }
    out = g_malloc(sizeof(rw) + rw.count);
    memcpy(out, &rw, sizeof(rw));
    memcpy(out + sizeof(rw), r->mem + rw.offset, rw.count);
    return fake_send(fs, req, out, sizeof(rw) + rw.count, NULL, 0);
}

/* Every entry checked first, then written in order. */
static bool fake_write_multi(FakeServer *fs, const VFIOUserHdr *req,
                             const uint8_t *p, size_t len)
{
    const size_t esz = sizeof(VFIOUserWriteMultiEntry);
    VFIOUserWriteMultiEntry e;
    uint64_t n = 0;
    bool bad;

    if (len >= sizeof(n)) {
        memcpy(&n, p, sizeof(n));
    }
    bad = !fs->caps.write_multiple || n == 0 || n > VFIO_USER_MULTI_MAX ||
          len != sizeof(n) + n * esz;
    for (uint64_t i = 0; !bad && i < n; i++) {
        memcpy(&e, p + sizeof(n) + i * esz, esz);
        bad = e.region >= FAKE_MAX_REGIONS || !fs->regions[e.region].mem ||
              e.count == 0 || e.count > VFIO_USER_MULTI_DATA ||
              e.offset > fs->regions[e.region].size ||
              e.count > fs->regions[e.region].size - e.offset;
    }
    g_mutex_lock(&fs->lock);
    fs->multi_bad += bad;
    for (uint64_t i = 0; !bad && i < n; i++) {
        memcpy(&e, p + sizeof(n) + i * esz, esz);
        memcpy(fs->regions[e.region].mem + e.offset, e.data, e.count);
    }
    if (!bad) {
        fs->multi_posted += !!(req->flags & VFIO_USER_F_NO_REPLY);
        fs->multi_entries += n;
        fs->multi_last = n;
    }
    g_mutex_unlock(&fs->lock);
    if (bad) {
        return vfio_user_msg_send_error(fs->sock, req, EINVAL, NULL);
    }
    return fake_send(fs, req, &n, sizeof(n), NULL, 0);
}

/* Keeps the received eventfds per vector; no fds de-assigns. */
static bool fake_set_irqs(FakeServer *fs, const VFIOUserHdr *req,
                          const uint8_t *p, size_t len, int *fds, size_t nfds)
{
    VFIOUserIrqSet s;
    bool eventfd;

    if (len < sizeof(s)) {
        vfio_user_close_fds(fds, nfds);
        return fake_error(fs, req, EINVAL);
    }
    memcpy(&s, p, sizeof(s));
    eventfd = s.flags & VFIO_IRQ_SET_DATA_EVENTFD;
    if (s.start > FAKE_MAX_VECTORS || s.count > FAKE_MAX_VECTORS - s.start ||
        (eventfd && nfds && nfds != s.count) || (!eventfd && nfds)) {
        vfio_user_close_fds(fds, nfds);
        return fake_error(fs, req, EINVAL);
    }
    g_mutex_lock(&fs->lock);
    if (fs->nr_irq_msgs < FAKE_MAX_IRQ_MSGS) {
        fs->irq_msgs[fs->nr_irq_msgs++] = (FakeIrqMsg){
            s.flags, s.index, s.start, s.count, nfds,
        };
    }
    if (s.count == 0) {
        vfio_user_close_fds(fs->irq_efds, FAKE_MAX_VECTORS);
    }
    for (uint32_t i = 0; eventfd && i < s.count; i++) {
        vfio_user_close_fds(&fs->irq_efds[s.start + i], 1);
        fs->irq_efds[s.start + i] = nfds ? fds[i] : -1;
    }
    g_mutex_unlock(&fs->lock);
    return fake_send(fs, req, NULL, 0, NULL, 0);
}

/* Three sub-regions: plain, datamatch 0xabcd, and an ioregionfd. */
static bool fake_io_fds(FakeServer *fs, const VFIOUserHdr *req,
                        const uint8_t *p, size_t len)
{
    struct {
        VFIOUserRegionIOFds h;
        VFIOUserSubRegionIOFd e[3];
    } VFIO_USER_PACKED rep = {
        .h = {.argsz = sizeof(rep), .count = 3},
        .e =
            {
                {.offset = 0x10, .size = 4, .fd_index = 0},
                {.offset = 0x20,
                 .size = 4,
                 .fd_index = 0,
                 .flags = VFIO_USER_IOEVENTFD_F_DATAMATCH,
                 .datamatch = 0xabcd},
                {.offset = 0x30,
                 .size = 4,
                 .fd_index = 1,
                 .type = VFIO_USER_IO_FD_TYPE_IOREGIONFD},
            },
    };
    VFIOUserRegionIOFds q;
    int fds[2];
    bool ok;

    if (len < sizeof(q)) {
        return fake_error(fs, req, EINVAL);
    }
    memcpy(&q, p, sizeof(q));
    if ((int)q.index != fs->io_region || q.argsz < sizeof(rep)) {
        return fake_error(fs, req, EINVAL);
    }
    rep.h.index = q.index;
    if (fs->io_efd < 0) {
        fs->io_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    }
    fds[0] = fs->io_efd;
    fds[1] = eventfd(0, EFD_CLOEXEC);
    ok = fake_send(fs, req, &rep, sizeof(rep), fds, 2);
    close(fds[1]);
    return ok;
}

static bool fake_handle(FakeServer *fs, const VFIOUserHdr *req,
                        const uint8_t *p, size_t len, int *fds, size_t nfds)
{
    VFIOUserDeviceInfo di = {
        sizeof(di),
        fs->dev_flags,
        fs->num_regions,
        fs->num_irqs,
    };
    VFIOUserIrqInfo ii;
    g_autofree void *ver = NULL;
    size_t vlen;

    if (req->cmd == VFIO_USER_DEVICE_SET_IRQS) {
        return fake_set_irqs(fs, req, p, len, fds, nfds);
    }
    vfio_user_close_fds(fds, nfds);
    switch (req->cmd) {
    case VFIO_USER_VERSION:
        ver = vfio_user_caps_build_version(&fs->caps, &vlen);
        return fake_send(fs, req, ver, vlen, NULL, 0);
    case VFIO_USER_DEVICE_GET_INFO:
        return fake_send(fs, req, &di, sizeof(di), NULL, 0);
    case VFIO_USER_DEVICE_GET_REGION_INFO:
        return fake_region_info(fs, req, p, len);
    case VFIO_USER_DEVICE_GET_IRQ_INFO:
        if (len < sizeof(ii)) {
            return fake_error(fs, req, EINVAL);
        }
        memcpy(&ii, p, sizeof(ii));
        ii.flags = VFIO_IRQ_INFO_EVENTFD;
        ii.count = ii.index < 8 ? fs->irq_count[ii.index] : 0;
        return fake_send(fs, req, &ii, sizeof(ii), NULL, 0);
    case VFIO_USER_REGION_READ:
    case VFIO_USER_REGION_WRITE:
        return fake_region_rw(fs, req, p, len);
    case VFIO_USER_DEVICE_RESET:
        g_mutex_lock(&fs->lock);
        fs->resets++;
        g_mutex_unlock(&fs->lock);
        return fake_send(fs, req, NULL, 0, NULL, 0);
    case VFIO_USER_DEVICE_GET_REGION_IO_FDS:
        return fake_io_fds(fs, req, p, len);
    case VFIO_USER_REGION_WRITE_MULTI:
        return fake_write_multi(fs, req, p, len);
    default:
        return fake_error(fs, req, ENOSYS);
    }
}

static gpointer fake_thread(gpointer opaque)
{
    FakeServer *fs = opaque;

    for (;;) {
        VFIOUserHdr hdr;
        int fds[VFIO_USER_MAX_FDS];
        size_t nfds = 0, len;
        g_autofree uint8_t *p = NULL;
        bool ok;

        if (!vfio_user_msg_recv_hdr(fs->sock, &hdr, fds, &nfds,
                                    VFIO_USER_MAX_FDS, FAKE_MAX_MSG, NULL)) {
            break;
        }
        len = hdr.size - sizeof(hdr);
        p = g_malloc0(len + 1);
        if (!vfio_user_msg_recv_body(fs->sock, p, len, NULL)) {
            vfio_user_close_fds(fds, nfds);
            break;
        }
        g_mutex_lock(&fs->lock);
        if (hdr.cmd < VFIO_USER_MAX_COMMAND) {
            fs->cmds[hdr.cmd]++;
        }
        g_mutex_unlock(&fs->lock);
        if (fs->replay) {
            vfio_user_close_fds(fds, nfds);
            ok = fake_replay(fs, &hdr);
        } else {
            ok = fake_handle(fs, &hdr, p, len, fds, nfds);
        }
        if (!ok) {
            break;
        }
    }
    shutdown(fs->sock, SHUT_RDWR);
    return NULL;
}

VFIOUserProxy *fake_server_start(FakeServer *fs)
{
    VFIOUserProxyOptions opts;
    VFIOUserProxy *proxy;
    GError *err = NULL;
    int sv[2];

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==,
                    0);
    fs->sock = sv[1];
    fs->thread = g_thread_new("fake-device", fake_thread, fs);
    vfio_user_proxy_options_init(&opts);
    proxy = vfio_user_proxy_new_from_fd(sv[0], &opts, &err);
    g_assert_no_error(err);
    g_assert_nonnull(proxy);
    return proxy;
}

void fake_server_hangup(FakeServer *fs)
{
    shutdown(fs->sock, SHUT_RDWR);
}

bool fake_server_trigger(FakeServer *fs, unsigned vector)
{
    uint64_t one = 1;
    bool ok = false;

    g_mutex_lock(&fs->lock);
    if (vector < FAKE_MAX_VECTORS && fs->irq_efds[vector] >= 0) {
        ok = write(fs->irq_efds[vector], &one, sizeof(one)) == sizeof(one);
    }
    g_mutex_unlock(&fs->lock);
    return ok;
}

void fake_server_snapshot(FakeServer *fs, FakeServer *out)
{
    g_mutex_lock(&fs->lock);
    memcpy(out, fs, sizeof(*out));
    g_mutex_unlock(&fs->lock);
}

void fake_server_stop(FakeServer *fs, VFIOUserProxy *proxy)
{
    vfio_user_proxy_close(proxy);
    if (fs->thread) {
        shutdown(fs->sock, SHUT_RDWR);
        g_thread_join(fs->thread);
    }
    vfio_user_close_fds(&fs->sock, 1);
    for (unsigned i = 0; i < FAKE_MAX_REGIONS; i++) {
        FakeRegion *r = &fs->regions[i];

        if (r->map) {
            munmap(r->map, r->map_len);
        } else {
            g_free(r->mem);
        }
        vfio_user_close_fds(&r->memfd, 1);
        g_free(r->raw);
    }
    vfio_user_close_fds(fs->irq_efds, FAKE_MAX_VECTORS);
    vfio_user_close_fds(&fs->io_efd, 1);
    if (fs->replay) {
        g_ptr_array_unref(fs->replay);
    }
    g_mutex_clear(&fs->lock);
    g_free(fs);
}
