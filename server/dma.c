/*
 * libvfio-user-server DMA: the map table (DMA_MAP / DMA_UNMAP) and the
 * device's way into guest memory, vus_dma_read() / vus_dma_write() and
 * their vectored forms, in the three access modes: "mmap" (memcpy through
 * our mapping of the client's fd), "file-io" (pread/pwrite on the fd at
 * fd_offset + (addr - base)) and "message" (DMA_READ / DMA_WRITE requests
 * answered by the client).
 *
 * DMA_MAP rules (the access-mode change to the spec, plus our choices):
 *   mmap bit: mmap() the fd; file-I/O bit: keep the fd for pread/pwrite;
 *   no mode bit: mmap if an fd came, messages otherwise;
 *   a mode bit without an fd, both mode bits (meaningless, our decision),
 *   unknown bits, argsz < 32, zero size, address or offset overflow, more
 *   than one fd, or (mmap) a regular file shorter than offset + size:
 *   EINVAL; any overlap with a map (an exact repeat too):
 *   EEXIST; more than max_dma_maps: ENOSPC; mmap() failure: its errno.
 * With the legacy_dma_map option every bit beyond read/write is EINVAL.
 *
 * DMA_UNMAP: the range must match a map exactly, else ENOENT; the unmap-all
 * flag needs address and size 0; the dirty bitmap flag is ENOTSUP.  The
 * memory is unmapped / the fd closed before the reply goes out.
 *
 * The table is a GArray of maps sorted by address (binary search).  All of
 * it is guarded by VusServer.lock.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include "internal.h"
#include "vfio-user/guard.h"
#include "trace-events.h"

static const char *const mode_names[] = {
    [VUS_DMA_MODE_MMAP] = "mmap",
    [VUS_DMA_MODE_FILE_IO] = "file-io",
    [VUS_DMA_MODE_MESSAGE] = "message",
};

const char *vus_dma_mode_name(VusDmaMode mode)
{
    return (unsigned)mode < G_N_ELEMENTS(mode_names) ? mode_names[mode]
                                                     : "unknown";
}

static VusDmaMap *map_at(VusServer *srv, guint i)
{
    return g_array_index(srv->maps, VusDmaMap *, i);
}

/* Index of the first map whose address is above @addr. */
static guint upper_bound(VusServer *srv, uint64_t addr)
{
    guint lo = 0, hi = srv->maps->len;

    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;

        if (map_at(srv, mid)->addr <= addr) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static VusDmaMap *lookup(VusServer *srv, uint64_t addr)
{
    guint i = upper_bound(srv, addr);
    VusDmaMap *m;

    if (i == 0) {
        return NULL;
    }
    m = map_at(srv, i - 1);
    return addr - m->addr < m->size ? m : NULL;
}

static bool overlaps(VusServer *srv, uint64_t addr, uint64_t size)
{
    guint i = upper_bound(srv, addr);

    if (i > 0 && addr - map_at(srv, i - 1)->addr < map_at(srv, i - 1)->size) {
        return true;
    }
    return i < srv->maps->len && map_at(srv, i)->addr - addr < size;
}

static void map_free(VusDmaMap *m)
{
    if (m->mmap_base) {
        munmap(m->mmap_base, m->mmap_len);
    }
    if (m->fd >= 0) {
        close(m->fd);
    }
    g_free(m);
}

void vus_dma_init(VusServer *srv)
{
    srv->maps = g_array_new(FALSE, FALSE, sizeof(VusDmaMap *));
}

void vus_dma_unmap_all(VusServer *srv)
{
    for (guint i = 0; i < srv->maps->len; i++) {
        map_free(map_at(srv, i));
    }
    g_array_set_size(srv->maps, 0);
    srv->nr_msg_maps = 0;
}

/* Check the request; returns 0 and the mode, or an errno. */
static int dma_map_check(VusServer *srv, const VFIOUserDMAMap *req, size_t nfds,
                         VusDmaMode *mode)
{
    uint32_t modes = req->flags & VFIO_USER_DMA_MAP_F_MODES;
    uint32_t known =
        srv->opts.legacy_dma_map
            ? (VFIO_USER_DMA_MAP_F_READ | VFIO_USER_DMA_MAP_F_WRITE)
            : VFIO_USER_DMA_MAP_F_ALL;

    if (req->argsz < sizeof(*req) || (req->flags & ~known) || nfds > 1 ||
        req->size == 0 || req->addr + req->size < req->addr ||
        (nfds && (req->offset + req->size < req->offset ||
                  req->offset + req->size > (uint64_t)INT64_MAX))) {
        return EINVAL; /* the fd range must also fit an off_t */
    }
    /* Both bits name two different modes at once: meaningless, EINVAL. */
    if (modes == VFIO_USER_DMA_MAP_F_MODES) {
        return EINVAL;
    }
    if (modes && !nfds) {
        return EINVAL; /* the spec: a mode that needs an fd, without one */
    }
    if (modes == VFIO_USER_DMA_MAP_F_MODE_FILE_IO) {
        *mode = VUS_DMA_MODE_FILE_IO;
    } else {
        *mode = nfds ? VUS_DMA_MODE_MMAP : VUS_DMA_MODE_MESSAGE;
    }
    if (overlaps(srv, req->addr, req->size)) {
        return EEXIST;
    }
    if (srv->maps->len >= srv->caps.max_dma_maps) {
        return ENOSPC;
    }
    return 0;
}

static int dma_map_mmap(VusDmaMap *m, int fd)
{
    uint64_t pgsz = (uint64_t)sysconf(_SC_PAGESIZE);
    uint64_t delta = m->fd_offset % pgsz;
    int prot = PROT_NONE;
    void *p;

    struct stat st;

    if (m->size > SIZE_MAX - delta) {
        return EINVAL;
    }
    /*
     * Touching a shared mapping beyond the end of a file is SIGBUS: refuse
     * a regular file (memfd, tmpfs, hugetlbfs...) too short for the map.
     * A client that shrinks the file afterwards is caught by dma_mmap_copy.
     */
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
        m->fd_offset + m->size > (uint64_t)st.st_size) {
        trace_server_dma_map_past_eof(m->addr, m->size, (uint64_t)st.st_size);
        return EINVAL;
    }
    if (m->flags & VFIO_USER_DMA_MAP_F_READ) {
        prot |= PROT_READ;
    }
    if (m->flags & VFIO_USER_DMA_MAP_F_WRITE) {
        prot |= PROT_WRITE;
    }
    p = mmap(NULL, m->size + delta, prot, MAP_SHARED, fd,
             (off_t)(m->fd_offset - delta));
    if (p == MAP_FAILED) {
        int e = errno;

        trace_server_dma_mmap_failed(m->addr, m->size, g_strerror(e));
        return e;
    }
    m->mmap_base = p;
    m->mmap_len = m->size + delta;
    m->mem = (uint8_t *)p + delta;
    return 0;
}

int vus_handle_dma_map(VusServer *srv, VfioUserMsg *msg, VusReply *r)
{
    VFIOUserDMAMap req;
    VusDmaMode mode = VUS_DMA_MODE_MESSAGE;
    VusDmaMap *m;
    guint pos;
    int ret;

    (void)r;
    if (msg->len < sizeof(req)) {
        return EINVAL;
    }
    memcpy(&req, msg->payload, sizeof(req));
    ret = dma_map_check(srv, &req, msg->nfds, &mode);
    if (ret) {
        trace_server_dma_map_rejected(req.addr, req.size, req.flags, msg->nfds,
                                      g_strerror(ret));
        return ret;
    }
    m = g_new0(VusDmaMap, 1);
    m->addr = req.addr;
    m->size = req.size;
    m->fd_offset = req.offset;
    m->flags = req.flags;
    m->mode = mode;
    m->has_fd = msg->nfds == 1;
    m->fd = -1;
    if (mode == VUS_DMA_MODE_MMAP) {
        ret = dma_map_mmap(m, msg->fds[0]);
        if (ret) {
            g_free(m);
            return ret;
        }
    } else if (mode == VUS_DMA_MODE_FILE_IO) {
        m->fd = msg->fds[0];
        msg->fds[0] = -1; /* kept */
    }
    pos = upper_bound(srv, m->addr);
    g_array_insert_val(srv->maps, pos, m);
    srv->nr_msg_maps += mode == VUS_DMA_MODE_MESSAGE;
    trace_server_dma_map(m->addr, m->size, vus_dma_mode_name(mode),
                         m->has_fd ? "yes" : "no");
    return 0;
}

int vus_handle_dma_unmap(VusServer *srv, VfioUserMsg *msg, VusReply *r)
{
    VFIOUserDMAUnmap req;
    guint i;
    VusDmaMap *m;

    if (msg->len < sizeof(req) || msg->nfds) {
        return EINVAL;
    }
    memcpy(&req, msg->payload, sizeof(req));
    if (req.argsz < sizeof(req) ||
        (req.flags & ~(VFIO_USER_DMA_UNMAP_F_ALL |
                       VFIO_USER_DMA_UNMAP_F_GET_DIRTY_BITMAP))) {
        return EINVAL;
    }
    if (req.flags & VFIO_USER_DMA_UNMAP_F_GET_DIRTY_BITMAP) {
        return ENOTSUP; /* no dirty page tracking in this server */
    }
    if (req.flags & VFIO_USER_DMA_UNMAP_F_ALL) {
        if (req.addr || req.size) {
            return EINVAL;
        }
        trace_server_dma_unmap_all(srv->maps->len);
        vus_dma_unmap_all(srv);
    } else {
        i = upper_bound(srv, req.addr);
        m = i > 0 ? map_at(srv, i - 1) : NULL;
        if (!m || m->addr != req.addr || m->size != req.size) {
            return ENOENT; /* only whole maps can be unmapped */
        }
        trace_server_dma_unmap(m->addr, m->size, vus_dma_mode_name(m->mode),
                               m->bytes_read, m->bytes_written);
        g_array_remove_index(srv->maps, i - 1);
        srv->nr_msg_maps -= m->mode == VUS_DMA_MODE_MESSAGE;
        map_free(m);
    }
    r->payload = g_malloc(sizeof(req));
    memcpy(r->payload, &req, sizeof(req));
    r->len = sizeof(req);
    return 0;
}

/* Whole range mapped and allowed?  Checked before any byte moves. */
static bool dma_check_range(VusServer *srv, uint64_t addr, size_t len,
                            bool is_write, GError **errp)
{
    uint32_t need =
        is_write ? VFIO_USER_DMA_MAP_F_WRITE : VFIO_USER_DMA_MAP_F_READ;

    if (addr + len < addr) {
        return vfio_user_error_set(errp, EFAULT,
                                   "DMA range 0x%" PRIx64 "+0x%zx wraps around",
                                   addr, len);
    }
    while (len > 0) {
        VusDmaMap *m = lookup(srv, addr);
        uint64_t n;

        if (!m) {
            return vfio_user_error_set(
                errp, EFAULT, "DMA address 0x%" PRIx64 " is not mapped", addr);
        }
        if (!(m->flags & need)) {
            return vfio_user_error_set(
                errp, EPERM,
                "DMA map 0x%" PRIx64 "+0x%" PRIx64 " does not allow %s",
                m->addr, m->size, is_write ? "writes" : "reads");
        }
        n = MIN((uint64_t)len, m->size - (addr - m->addr));
        addr += n;
        len -= n;
    }
    return true;
}

static bool dma_file_io(VusDmaMap *m, uint64_t addr, uint8_t *buf, size_t len,
                        bool is_write, GError **errp)
{
    uint64_t off = m->fd_offset + (addr - m->addr);

    while (len > 0) {
        ssize_t n = is_write ? pwrite(m->fd, buf, len, (off_t)off)
                             : pread(m->fd, buf, len, (off_t)off);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            int e = n < 0 ? errno : EFAULT;

            return vfio_user_error_set(errp, e,
                                       "DMA %s at 0x%" PRIx64
                                       " (fd offset 0x%" PRIx64 "): %s",
                                       is_write ? "pwrite" : "pread", addr, off,
                                       n < 0 ? g_strerror(e) : "end of file");
        }
        buf += n;
        off += (uint64_t)n;
        addr += (uint64_t)n;
        len -= (size_t)n;
    }
    return true;
}

/* The socket failed in the middle of a reply: the stream is lost. */
static bool dma_stream_lost(VusServer *srv, GError *err, GError **errp)
{
    vus_server_mark_broken(srv, g_error_copy(err));
    g_propagate_error(errp, err);
    return false;
}

/*
 * Read the reply body of a DMA_READ / DMA_WRITE.  A DMA_WRITE reply echoes
 * address and count: 16 bytes (libvfio-user, us) or 12 with the 4-byte
 * count of the specification's table (QEMU).
 */
static bool dma_reply_body(VusServer *srv, const VFIOUserHdr *reply,
                           uint64_t addr, uint8_t *buf, size_t len,
                           bool is_write, GError **errp)
{
    size_t body = reply->size - sizeof(*reply);
    GError *err = NULL;
    VFIOUserDMARW ans;
    struct iovec riov[2] = {
        {.iov_base = &ans, .iov_len = sizeof(ans)},
        {.iov_base = buf, .iov_len = len},
    };

    if (is_write ? body != sizeof(ans) && body != sizeof(ans) - 4
                 : body != sizeof(ans) + len) {
        if (!vus_rx_discard(srv, body, &err)) {
            return dma_stream_lost(srv, err, errp);
        }
        return vfio_user_error_set(errp, EPROTO, "%s reply has %zu bytes",
                                   vfio_user_cmd_name(reply->cmd), body);
    }
    memset(&ans, 0, sizeof(ans));
    riov[0].iov_len = is_write ? body : sizeof(ans);
    if (!vus_rx_bodyv(srv, riov, is_write ? 1 : 2, &err)) {
        return dma_stream_lost(srv, err, errp);
    }
    if (ans.addr != addr || ans.count != len) {
        return vfio_user_error_set(errp, EPROTO,
                                   "%s reply is for 0x%" PRIx64 "+0x%" PRIx64
                                   ", asked 0x%" PRIx64 "+0x%zx",
                                   vfio_user_cmd_name(reply->cmd), ans.addr,
                                   ans.count, addr, len);
    }
    return true;
}

/*
 * Message mode keeps up to dma_msg_window requests of at most dma_msg_chunk
 * bytes (and never more than the negotiated max_data_xfer_size) in flight,
 * so that a transfer of several chunks, or of several pieces of a
 * vectored call, does not pay a round trip per chunk.  The client answers
 * in order; each reply must match its request's id and command.  When a
 * chunk fails, the replies still owed are read and dropped before the
 * transfer fails, so that none of them is taken for the answer to a later
 * request.
 */
#define DMA_MSG_WINDOW VUS_SERVER_MAX_DMA_MSG_WINDOW

static size_t dma_msg_chunk(VusServer *srv)
{
    uint64_t max = srv->caps.max_data_xfer_size;

    if (srv->opts.dma_msg_chunk && srv->opts.dma_msg_chunk < max) {
        max = srv->opts.dma_msg_chunk;
    }
    return (size_t)max;
}

static bool dma_msg_send(VusServer *srv, uint64_t addr, uint8_t *buf,
                         size_t len, bool is_write, uint16_t *id, GError **errp)
{
    VFIOUserDMARW rw = {.addr = addr, .count = len};
    struct iovec iov[2] = {
        {.iov_base = &rw, .iov_len = sizeof(rw)},
        {.iov_base = buf, .iov_len = len},
    };

    return vus_server_send_request(
        srv, is_write ? VFIO_USER_DMA_WRITE : VFIO_USER_DMA_READ, iov,
        is_write ? 2 : 1, id, errp);
}

/*
 * A DMA_READ reply of up to DMA_MSG_AHEAD_MAX data bytes is read with its
 * header in one receive and copied out of the receive buffer; a larger
 * one is received straight into @buf.
 */
#define DMA_MSG_AHEAD_MAX (16 * 1024)
#define DMA_MSG_HEAD (sizeof(VFIOUserHdr) + sizeof(VFIOUserDMARW))

static bool dma_msg_recv(VusServer *srv, uint64_t addr, uint8_t *buf,
                         size_t len, bool is_write, uint16_t id, GError **errp)
{
    uint16_t cmd = is_write ? VFIO_USER_DMA_WRITE : VFIO_USER_DMA_READ;
    size_t ahead =
        DMA_MSG_HEAD + (is_write || len > DMA_MSG_AHEAD_MAX ? 0 : len);
    VFIOUserHdr reply;

    return vus_server_wait_reply(srv, id, cmd, ahead, &reply, errp) &&
           dma_reply_body(srv, &reply, addr, buf, len, is_write, errp);
}

/* A request in flight, and the map whose byte count it adds to. */
typedef struct DmaChunk {
    VusDmaMap *map;
    uint64_t addr;
    uint8_t *buf;
    size_t len;
    uint16_t id;
} DmaChunk;

/*
 * The message requests of one call: chunks [done, sent) are in flight, in
 * ring[i % DMA_MSG_WINDOW].  The maps stay put: srv->lock is held.
 */
typedef struct DmaPipe {
    VusServer *srv;
    bool is_write;
    size_t chunk, window;
    size_t sent, done;
    DmaChunk ring[DMA_MSG_WINDOW];
} DmaPipe;

static void dma_count(VusDmaMap *m, size_t n, bool is_write)
{
    if (is_write) {
        m->bytes_written += n;
    } else {
        m->bytes_read += n;
    }
}

/* Wait for the reply to the oldest request in flight. */
static bool dma_pipe_complete(DmaPipe *p, GError **errp)
{
    DmaChunk *c = &p->ring[p->done++ % DMA_MSG_WINDOW];

    if (!dma_msg_recv(p->srv, c->addr, c->buf, c->len, p->is_write, c->id,
                      errp)) {
        return false;
    }
    dma_count(c->map, c->len, p->is_write);
    return true;
}

/* Ask for [@addr, @addr + @n) of map @m, a window's worth at a time. */
static bool dma_pipe_push(DmaPipe *p, VusDmaMap *m, uint64_t addr, uint8_t *buf,
                          size_t n, GError **errp)
{
    for (size_t off = 0; off < n;) {
        DmaChunk *c;

        if (p->sent - p->done == p->window && !dma_pipe_complete(p, errp)) {
            return false;
        }
        c = &p->ring[p->sent % DMA_MSG_WINDOW];
        *c = (DmaChunk){m, addr + off, buf + off, MIN(p->chunk, n - off), 0};
        if (!dma_msg_send(p->srv, c->addr, c->buf, c->len, p->is_write, &c->id,
                          errp)) {
            return false;
        }
        p->sent++;
        off += c->len;
    }
    return true;
}

static bool dma_pipe_flush(DmaPipe *p, GError **errp)
{
    while (p->done < p->sent) {
        if (!dma_pipe_complete(p, errp)) {
            return false;
        }
    }
    return true;
}

/*
 * After a failed chunk (@err): read and drop the replies still owed.
 * After a timeout the client is stuck: its late replies get dropped.
 */
static void dma_pipe_abort(DmaPipe *p, const GError *err)
{
    uint16_t cmd = p->is_write ? VFIO_USER_DMA_WRITE : VFIO_USER_DMA_READ;
    VusServer *srv = p->srv;

    if (err->code == ETIMEDOUT || err->code == ENOBUFS) {
        return;
    }
    for (; p->done < p->sent && !srv->broken; p->done++) {
        GError *e = NULL;
        VFIOUserHdr reply;

        if (!vus_server_wait_reply(srv, p->ring[p->done % DMA_MSG_WINDOW].id,
                                   cmd, DMA_MSG_HEAD, &reply, &e)) {
            /* An error reply is consumed; a late one is dropped later. */
            bool timed_out = e->code == ETIMEDOUT || e->code == ENOBUFS;

            g_error_free(e);
            if (timed_out) {
                return;
            }
        } else if (!vus_rx_discard(srv, reply.size - sizeof(reply), &e)) {
            vus_server_mark_broken(srv, e);
        }
    }
}

/*
 * mmap mode, under the SIGBUS guard: the client owns the fd and may shrink
 * it (an unsealed memfd, a memory-backend-file).  The fault fails this DMA
 * with EFAULT and drops the client; the server lives on for the next one.
 */
static bool dma_mmap_copy(VusServer *srv, VusDmaMap *m, uint64_t addr,
                          uint8_t *buf, size_t n, bool is_write, GError **errp)
{
    uint8_t *mem = m->mem + (addr - m->addr);
    GError *err = NULL;

    if (vfio_user_guard_copy(is_write ? mem : buf, is_write ? buf : mem, n,
                             !is_write)) {
        return true;
    }
    /* clang-format off */
    vfio_user_error_set(&err, EFAULT,
                  "DMA %s at 0x%" PRIx64 "+0x%zx faulted (SIGBUS): the client shrank the file behind DMA map 0x%" PRIx64,
                  is_write ? "write" : "read", addr, n, m->addr);
    /* clang-format on */
    vus_warn("%s; dropping the client", err->message);
    vus_server_mark_broken(srv, g_error_copy(err));
    g_propagate_error(errp, err);
    return false;
}

/* One piece of a map in mmap or file-io mode. */
static bool dma_direct(VusServer *srv, VusDmaMap *m, uint64_t addr,
                       uint8_t *buf, size_t n, bool is_write, GError **errp)
{
    bool ok = m->mode == VUS_DMA_MODE_MMAP
                  ? dma_mmap_copy(srv, m, addr, buf, n, is_write, errp)
                  : dma_file_io(m, addr, buf, n, is_write, errp);

    if (ok) {
        dma_count(m, n, is_write);
    }
    if (ok && is_write) {
        /* A written piece is visible before the next (a ring's index). */
        __atomic_thread_fence(__ATOMIC_RELEASE);
    }
    return ok;
}

/* One piece, map by map; message parts join @p's requests in flight. */
static bool dma_seg(DmaPipe *p, uint64_t addr, uint8_t *buf, size_t len,
                    GError **errp)
{
    bool ok = true;

    while (ok && len > 0) {
        VusDmaMap *m = lookup(p->srv, addr);
        size_t n = MIN((uint64_t)len, m->size - (addr - m->addr));

        if (m->mode == VUS_DMA_MODE_MESSAGE) {
            ok = dma_pipe_push(p, m, addr, buf, n, errp);
        } else {
            ok = dma_pipe_flush(p, errp) &&
                 dma_direct(p->srv, m, addr, buf, n, p->is_write, errp);
        }
        addr += n;
        buf += n;
        len -= n;
    }
    return ok;
}

static bool dma_rwv(VusServer *srv, const VusDmaSeg *segs, size_t nsegs,
                    bool is_write, GError **errp)
{
    DmaPipe p = {.srv = srv, .is_write = is_write};
    GError *err = NULL;
    bool ok = true;

    if (nsegs && !segs) {
        return vfio_user_error_set(errp, EINVAL, "DMA of %zu pieces, no array",
                                   nsegs);
    }
    g_rec_mutex_lock(&srv->lock);
    p.chunk = dma_msg_chunk(srv);
    p.window = srv->opts.dma_msg_window;
    for (size_t i = 0; ok && i < nsegs; i++) {
        ok = dma_check_range(srv, segs[i].addr, segs[i].len, is_write, &err);
    }
    for (size_t i = 0; ok && i < nsegs; i++) {
        ok = dma_seg(&p, segs[i].addr, segs[i].buf, segs[i].len, &err);
    }
    ok = ok && dma_pipe_flush(&p, &err);
    if (!ok) {
        dma_pipe_abort(&p, err);
        g_propagate_error(errp, err);
    }
    g_rec_mutex_unlock(&srv->lock);
    return ok;
}

bool vus_dma_read(VusServer *srv, uint64_t addr, void *buf, size_t len,
                  GError **errp)
{
    VusDmaSeg seg = {addr, buf, len};

    return dma_rwv(srv, &seg, 1, false, errp);
}

bool vus_dma_write(VusServer *srv, uint64_t addr, const void *buf, size_t len,
                   GError **errp)
{
    /* dma_rwv only reads the pieces' buffers when is_write is set. */
    VusDmaSeg seg = {addr, (void *)buf, len};

    return dma_rwv(srv, &seg, 1, true, errp);
}

bool vus_dma_readv(VusServer *srv, const VusDmaSeg *segs, size_t nsegs,
                   GError **errp)
{
    return dma_rwv(srv, segs, nsegs, false, errp);
}

bool vus_dma_writev(VusServer *srv, const VusDmaSeg *segs, size_t nsegs,
                    GError **errp)
{
    return dma_rwv(srv, segs, nsegs, true, errp);
}

GArray *vus_dma_get_maps(VusServer *srv)
{
    GArray *out = g_array_new(FALSE, TRUE, sizeof(VusDmaMapInfo));

    g_rec_mutex_lock(&srv->lock);
    for (guint i = 0; i < srv->maps->len; i++) {
        VusDmaMap *m = map_at(srv, i);
        VusDmaMapInfo info = {
            .addr = m->addr,
            .size = m->size,
            .fd_offset = m->fd_offset,
            .flags = m->flags,
            .mode = m->mode,
            .has_fd = m->has_fd,
            .bytes_read = m->bytes_read,
            .bytes_written = m->bytes_written,
        };

        g_array_append_val(out, info);
    }
    g_rec_mutex_unlock(&srv->lock);
    return out;
}
