/*
 * vfio-user client DMA: the map table, the access-mode policy (mmap, file
 * I/O, messages), DMA_MAP / DMA_UNMAP with the legacy-server fallback, and
 * serving the server's DMA_READ / DMA_WRITE requests straight from and into
 * guest memory on the proxy's receive thread.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define G_LOG_DOMAIN "vfio-user-dma"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "container-internal.h"
#include "container-probe.h"
#include "vfio-user/error.h"
#include "vfio-user/transport.h"
#include "trace-events.h"

/* What one DMA_MAP will carry. */
typedef struct ContainerPlan {
    uint32_t flags;
    int fd; /* -1: no fd */
    uint64_t offset;
    VFIOUserDMAAccess mode;
    bool mmappable; /* fd accepted by mmap(): kept by a fallback */
    bool via_proc_self_mem;
} ContainerPlan;

static const char *const access_names[] = {
    [VFIO_USER_DMA_ACCESS_AUTO] = "auto",
    [VFIO_USER_DMA_ACCESS_MMAP] = "mmap",
    [VFIO_USER_DMA_ACCESS_FILE_IO] = "file-io",
    [VFIO_USER_DMA_ACCESS_MESSAGE] = "message",
};

const char *vfio_user_dma_access_name(VFIOUserDMAAccess a)
{
    if ((unsigned)a >= G_N_ELEMENTS(access_names)) {
        return "unknown";
    }
    return access_names[a];
}

bool vfio_user_dma_access_parse(const char *s, VFIOUserDMAAccess *out,
                                GError **errp)
{
    for (unsigned i = 0; s && i < G_N_ELEMENTS(access_names); i++) {
        if (strcmp(s, access_names[i]) == 0) {
            *out = (VFIOUserDMAAccess)i;
            return true;
        }
    }
    return vfio_user_error_set(
        errp, EINVAL,
        "dma-access: expected auto, mmap, file-io or message, got '%s'",
        s ? s : "");
}

static uint64_t container_min_pgsize(VFIOUserContainer *c)
{
    uint64_t pg = vfio_user_proxy_caps(c->proxy)->pgsizes;

    return pg ? pg & (~pg + 1) : VFIO_USER_DEF_PGSIZES;
}

/* Does the server's mmap() of @s->fd work (container-probe.c)? */
static bool container_probe(VFIOUserContainer *c, const VFIOUserDMASection *s,
                            bool *mmappable, GError **errp)
{
    struct stat st;

    (void)c;
    if (fstat(s->fd, &st) < 0) {
        return vfio_user_error_set(errp, errno,
                                   "section '%s': bad backing fd %d: %s",
                                   s->name, s->fd, g_strerror(errno));
    }
    *mmappable = vfio_user_probe_mmap(s->fd, s->fd_offset, s->readonly);
    return true;
}

static bool container_proc_mem(VFIOUserContainer *c,
                               const VFIOUserDMASection *s, GError **errp)
{
    if (c->proc_mem_fd < 0) {
        c->proc_mem_fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
        if (c->proc_mem_fd < 0) {
            return vfio_user_error_set(
                errp, errno,
                "section '%s': dma-access=file-io cannot open /proc/self/mem: %s",
                s->name, g_strerror(errno));
        }
    }
    return true;
}

static void plan_fd(ContainerPlan *p, uint32_t mode_bit, int fd,
                    uint64_t offset)
{
    p->flags |= mode_bit;
    p->fd = fd;
    p->offset = offset;
    p->mode = mode_bit == VFIO_USER_DMA_MAP_F_MODE_MMAP
                  ? VFIO_USER_DMA_ACCESS_MMAP
                  : VFIO_USER_DMA_ACCESS_FILE_IO;
}

/* Apply the access-mode policy to @s. */
static bool container_plan(VFIOUserContainer *c, const VFIOUserDMASection *s,
                           ContainerPlan *p, GError **errp)
{
    bool has_fd = s->fd >= 0;

    *p = (ContainerPlan){
        .flags = VFIO_USER_DMA_MAP_F_READ |
                 (s->readonly ? 0 : VFIO_USER_DMA_MAP_F_WRITE),
        .fd = -1,
        .mode = VFIO_USER_DMA_ACCESS_MESSAGE,
    };
    if (has_fd && c->policy != VFIO_USER_DMA_ACCESS_MESSAGE &&
        !container_probe(c, s, &p->mmappable, errp)) {
        return false;
    }
    switch (c->policy) {
    case VFIO_USER_DMA_ACCESS_MESSAGE:
        return true;
    case VFIO_USER_DMA_ACCESS_MMAP:
        if (!has_fd) {
            return vfio_user_error_set(
                errp, EINVAL,
                "section '%s': dma-access=mmap needs RAM with an fd to share (memory-backend-memfd, or -file with share=on); this one has none",
                s->name);
        }
        if (!p->mmappable) {
            return vfio_user_error_set(
                errp, EINVAL,
                "section '%s': dma-access=mmap but mmap() refuses its fd (use dma-access=file-io or auto)",
                s->name);
        }
        plan_fd(p, VFIO_USER_DMA_MAP_F_MODE_MMAP, s->fd, s->fd_offset);
        return true;
    case VFIO_USER_DMA_ACCESS_FILE_IO:
        if (has_fd) {
            plan_fd(p, VFIO_USER_DMA_MAP_F_MODE_FILE_IO, s->fd, s->fd_offset);
            return true;
        }
        if (!container_proc_mem(c, s, errp)) {
            return false;
        }
        plan_fd(p, VFIO_USER_DMA_MAP_F_MODE_FILE_IO, c->proc_mem_fd,
                (uint64_t)(uintptr_t)s->host);
        p->via_proc_self_mem = true;
        return true;
    case VFIO_USER_DMA_ACCESS_AUTO:
    default:
        if (has_fd) {
            plan_fd(p,
                    p->mmappable ? VFIO_USER_DMA_MAP_F_MODE_MMAP
                                 : VFIO_USER_DMA_MAP_F_MODE_FILE_IO,
                    s->fd, s->fd_offset);
        }
        return true;
    }
}

/*
 * A server that takes no fds at all (max_msg_fds 0) can only be served by
 * messages: auto falls back to them, a forced fd mode is an error.
 */
static bool container_fit_fds(VFIOUserContainer *c, const VFIOUserDMASection *s,
                              ContainerPlan *p, GError **errp)
{
    if (p->fd < 0 || vfio_user_proxy_caps(c->proxy)->max_msg_fds > 0) {
        return true;
    }
    if (c->policy != VFIO_USER_DMA_ACCESS_AUTO) {
        return vfio_user_error_set(
            errp, EINVAL,
            "section '%s': dma-access=%s needs to send an fd, but the server accepts none (max_msg_fds 0)",
            s->name, vfio_user_dma_access_name(c->policy));
    }
    p->flags &= ~VFIO_USER_DMA_MAP_F_MODES;
    p->fd = -1;
    p->offset = 0;
    p->mode = VFIO_USER_DMA_ACCESS_MESSAGE;
    p->via_proc_self_mem = false;
    return true;
}

/* What a server without access modes gets: mmappable fd or messages. */
static void container_plan_legacy(ContainerPlan *p)
{
    p->flags &= ~VFIO_USER_DMA_MAP_F_MODES;
    if (p->fd >= 0 && p->mmappable && !p->via_proc_self_mem) {
        p->mode = VFIO_USER_DMA_ACCESS_MMAP;
        return;
    }
    p->fd = -1;
    p->offset = 0;
    p->mode = VFIO_USER_DMA_ACCESS_MESSAGE;
    p->via_proc_self_mem = false;
}

/* Local checks before anything is sent: range, alignment, overlap, limit. */
static bool container_check(VFIOUserContainer *c, const VFIOUserDMASection *s,
                            GError **errp)
{
    uint64_t pg = container_min_pgsize(c);
    uint32_t max_maps = vfio_user_proxy_caps(c->proxy)->max_dma_maps;
    guint i;

    if (!s->size || !s->host || s->size > UINT64_MAX - s->iova) {
        return vfio_user_error_set(errp, EINVAL,
                                   "section '%s': invalid range iova=0x%" PRIx64
                                   " size=0x%" PRIx64 "%s",
                                   s->name, s->iova, s->size,
                                   s->host ? "" : " (no host)");
    }
    if ((s->iova | s->size) & (pg - 1)) {
        return vfio_user_error_set(
            errp, EINVAL,
            "section '%s': iova 0x%" PRIx64 " and size 0x%" PRIx64
            " must be multiples of the server's page size 0x%" PRIx64,
            s->name, s->iova, s->size, pg);
    }
    if (c->maps->len >= max_maps) {
        return vfio_user_error_set(
            errp, ENOSPC,
            "section '%s': the server allows at most %" PRIu32 " DMA maps",
            s->name, max_maps);
    }
    i = container_upper(c->maps, s->iova);
    for (guint j = i ? i - 1 : 0; j < c->maps->len && j <= i; j++) {
        VFIOUserDMAMapEntry *e =
            &g_array_index(c->maps, VFIOUserDMAMapEntry, j);
        if (e->iova < s->iova + s->size && s->iova < e->iova + e->size) {
            return vfio_user_error_set(errp, EEXIST,
                                       "section '%s' [0x%" PRIx64 ", 0x%" PRIx64
                                       ") overlaps mapped section '%s'",
                                       s->name, s->iova, s->iova + s->size,
                                       e->name);
        }
    }
    return true;
}

/* Send one DMA_MAP; *rerr is the server's errno (0: accepted). */
static bool container_send_map(VFIOUserContainer *c,
                               const VFIOUserDMASection *s,
                               const ContainerPlan *p, int *rerr, GError **errp)
{
    VFIOUserDMAMap m = {
        .argsz = sizeof(m),
        .flags = p->flags,
        .offset = p->offset,
        .addr = s->iova,
        .size = s->size,
    };
    struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
    VFIOUserRequest req = {
        .cmd = VFIO_USER_DMA_MAP,
        .iov = &iov,
        .iovcnt = 1,
        .fds = p->fd >= 0 ? &p->fd : NULL,
        .nfds = p->fd >= 0 ? 1 : 0,
    };

    if (!vfio_user_proxy_call(c->proxy, &req, errp)) {
        g_prefix_error(errp, "section '%s': DMA_MAP: ", s->name);
        return false;
    }
    *rerr = req.reply_errno;
    return true;
}

/* Drop entry @i locally: no DMA request touches it once this returns. */
static void container_remove(VFIOUserContainer *c, guint i)
{
    g_rw_lock_writer_lock(&c->lock);
    g_array_remove_index(c->maps, i);
    g_rw_lock_writer_unlock(&c->lock);
}

/*
 * Put @s in the table before DMA_MAP is sent: the server may start DMA on
 * the range as soon as it has accepted the map, before its reply reaches
 * us, and such requests must be served.  Returns the entry's index.
 */
static guint container_insert(VFIOUserContainer *c, const VFIOUserDMASection *s,
                              const ContainerPlan *p)
{
    VFIOUserDMAMapEntry e = {
        .iova = s->iova,
        .size = s->size,
        .host = s->host,
        .flags = p->flags, /* the read/write permission is final already */
        .mode = p->mode,
    };
    guint i = container_upper(c->maps, s->iova);

    g_strlcpy(e.name, s->name, sizeof(e.name));
    g_rw_lock_writer_lock(&c->lock);
    g_array_insert_val(c->maps, i, e);
    g_rw_lock_writer_unlock(&c->lock);
    return i;
}

/* Record what was finally agreed with the server for entry @i. */
static void container_settle(VFIOUserContainer *c, guint i,
                             const ContainerPlan *p)
{
    VFIOUserDMAMapEntry *e;

    g_rw_lock_writer_lock(&c->lock);
    e = &g_array_index(c->maps, VFIOUserDMAMapEntry, i);
    e->flags = p->flags;
    e->mode = p->mode;
    e->sent_fd = p->fd >= 0;
    e->via_proc_self_mem = p->via_proc_self_mem;
    g_rw_lock_writer_unlock(&c->lock);
    trace_dma_map(e->name, e->iova, e->size, vfio_user_dma_access_name(e->mode),
                  e->sent_fd ? "yes" : "no",
                  e->via_proc_self_mem ? " (/proc/self/mem)" : "");
}

/*
 * Learn once per connection whether the server understands access modes,
 * from a throw-away map at @s's range (free: checked, and refused or not
 * yet sent).  A legacy verdict marks the connection legacy.
 */
static bool container_learn_modes(VFIOUserContainer *c,
                                  const VFIOUserDMASection *s,
                                  uint32_t mode_bit, GError **errp)
{
    VFIOUserModesVerdict v;
    int rerr = 0;

    if (!vfio_user_probe_modes(c->proxy, s->iova, container_min_pgsize(c),
                               mode_bit, &v, &rerr, errp)) {
        g_prefix_error(errp, "section '%s': access-mode probe: ", s->name);
        return false;
    }
    c->modes = v;
    if (v == VFIO_USER_MODES_LEGACY) {
        g_atomic_int_set(&c->legacy, 1);
        g_message(
            "%s: server does not support DMA access modes; using legacy DMA_MAP",
            vfio_user_proxy_label(c->proxy));
    }
    return true;
}

/*
 * /proc/self/mem hands the server the whole VMM: send it only to a server
 * that has shown it understands access modes.  A legacy one gets messages.
 */
static bool container_check_proc_mem(VFIOUserContainer *c,
                                     const VFIOUserDMASection *s,
                                     ContainerPlan *p, GError **errp)
{
    if (c->modes == VFIO_USER_MODES_UNKNOWN &&
        !container_learn_modes(c, s, VFIO_USER_DMA_MAP_F_MODE_FILE_IO, errp)) {
        return false;
    }
    if (c->modes == VFIO_USER_MODES_LEGACY) {
        container_plan_legacy(p);
        return true;
    }
    if (c->modes != VFIO_USER_MODES_UNDERSTOOD) {
        /* clang-format off */
        return vfio_user_error_set(errp, EPROTO,
                             "section '%s': dma-access=file-io: the server gave no clear answer whether it understands access modes, so /proc/self/mem is not sent",
                             s->name);
        /* clang-format on */
    }
    return true;
}

enum {
    CONTAINER_FALLBACK_MMAP = 1,    /* mmap -> file-io (or messages) */
    CONTAINER_FALLBACK_FILE_IO = 2, /* file-io -> messages */
};

/*
 * dma-access=auto: the server refused the planned mode itself (EACCES,
 * EPERM, ENODEV): step down mmap -> file-io -> messages, logging each
 * kind of step once per connection.  False when there is no step left.
 */
static bool container_step_down(VFIOUserContainer *c,
                                const VFIOUserDMASection *s, ContainerPlan *p,
                                int rerr)
{
    VFIOUserDMAAccess from = p->mode;
    unsigned kind;

    if (c->policy != VFIO_USER_DMA_ACCESS_AUTO ||
        (rerr != EACCES && rerr != EPERM && rerr != ENODEV) ||
        from == VFIO_USER_DMA_ACCESS_MESSAGE) {
        return false;
    }
    p->flags &= ~VFIO_USER_DMA_MAP_F_MODES;
    if (from == VFIO_USER_DMA_ACCESS_MMAP && !g_atomic_int_get(&c->legacy)) {
        p->flags |= VFIO_USER_DMA_MAP_F_MODE_FILE_IO;
        p->mode = VFIO_USER_DMA_ACCESS_FILE_IO;
    } else {
        p->fd = -1;
        p->offset = 0;
        p->mode = VFIO_USER_DMA_ACCESS_MESSAGE;
    }
    kind = from == VFIO_USER_DMA_ACCESS_MMAP ? CONTAINER_FALLBACK_MMAP
                                             : CONTAINER_FALLBACK_FILE_IO;
    if (!(c->fallbacks_logged & kind)) {
        c->fallbacks_logged |= kind;
        /* clang-format off */
        g_message("%s: section '%s': the server refused %s (%s); using %s",
                  vfio_user_proxy_label(c->proxy), s->name,
                  vfio_user_dma_access_name(from), g_strerror(rerr),
                  vfio_user_dma_access_name(p->mode));
        /* clang-format on */
    }
    return true;
}

/*
 * Send the plan.  EINVAL to mode bits while the server's support is
 * unknown: ask it (container_learn_modes) and go legacy only on a clear
 * answer; any other refusal is reported as itself.
 */
static bool container_negotiate_map(VFIOUserContainer *c,
                                    const VFIOUserDMASection *s,
                                    ContainerPlan *p, GError **errp)
{
    int rerr;

    if (g_atomic_int_get(&c->legacy)) {
        container_plan_legacy(p);
    }
    if (p->via_proc_self_mem && !container_check_proc_mem(c, s, p, errp)) {
        return false;
    }
    for (;;) {
        if (!container_send_map(c, s, p, &rerr, errp)) {
            return false;
        }
        if (!rerr) {
            if (p->flags & VFIO_USER_DMA_MAP_F_MODES) {
                c->modes = VFIO_USER_MODES_UNDERSTOOD;
            }
            return true;
        }
        if (rerr == EINVAL && (p->flags & VFIO_USER_DMA_MAP_F_MODES) &&
            c->modes == VFIO_USER_MODES_UNKNOWN) {
            if (!container_learn_modes(
                    c, s, p->flags & VFIO_USER_DMA_MAP_F_MODES, errp)) {
                return false;
            }
            if (c->modes == VFIO_USER_MODES_LEGACY) {
                container_plan_legacy(p);
                continue;
            }
        } else if (container_step_down(c, s, p, rerr)) {
            continue;
        }
        return vfio_user_error_set(
            errp, rerr,
            "section '%s': the server refused DMA_MAP of iova=0x%" PRIx64
            " size=0x%" PRIx64 " (%s): %s",
            s->name, s->iova, s->size, vfio_user_dma_access_name(p->mode),
            g_strerror(rerr));
    }
}

static bool container_map_locked(VFIOUserContainer *c,
                                 const VFIOUserDMASection *s, GError **errp)
{
    uint64_t pg = container_min_pgsize(c);
    ContainerPlan p;
    guint i;

    if (!container_check(c, s, errp) || !container_plan(c, s, &p, errp) ||
        !container_fit_fds(c, s, &p, errp)) {
        return false;
    }
    if (p.fd >= 0 && (p.offset & (pg - 1))) {
        return vfio_user_error_set(
            errp, EINVAL,
            "section '%s': fd offset 0x%" PRIx64
            " must be a multiple of the server's page size 0x%" PRIx64,
            s->name, p.offset, pg);
    }
    /* map_lock is held: nobody else inserts or removes meanwhile. */
    i = container_insert(c, s, &p);
    if (!container_negotiate_map(c, s, &p, errp)) {
        container_remove(c, i);
        return false;
    }
    container_settle(c, i, &p);
    return true;
}

bool vfio_user_container_map(VFIOUserContainer *c, const VFIOUserDMASection *s,
                             GError **errp)
{
    bool ok;

    g_mutex_lock(&c->map_lock);
    ok = container_map_locked(c, s, errp);
    g_mutex_unlock(&c->map_lock);
    return ok;
}

bool vfio_user_dma_unmap_send(VFIOUserProxy *proxy, uint64_t iova,
                              uint64_t size, int *rerr, GError **errp)
{
    VFIOUserDMAUnmap u = {
        .argsz = sizeof(u),
        .addr = iova,
        .size = size,
    };
    VFIOUserDMAUnmap echo;
    struct iovec iov = {.iov_base = &u, .iov_len = sizeof(u)};
    struct iovec riov = {.iov_base = &echo, .iov_len = sizeof(echo)};
    VFIOUserRequest req = {
        .cmd = VFIO_USER_DMA_UNMAP,
        .iov = &iov,
        .iovcnt = 1,
        .reply_iov = &riov,
        .reply_iovcnt = 1,
    };

    if (!vfio_user_proxy_call(proxy, &req, errp)) {
        return false;
    }
    *rerr = req.reply_errno;
    return true;
}

static bool container_send_unmap(VFIOUserContainer *c, uint64_t iova,
                                 uint64_t size, GError **errp)
{
    int rerr;

    if (!vfio_user_dma_unmap_send(c->proxy, iova, size, &rerr, errp)) {
        g_prefix_error(errp, "DMA_UNMAP iova=0x%" PRIx64 ": ", iova);
        return false;
    }
    if (rerr) {
        return vfio_user_error_set(
            errp, rerr,
            "the server refused DMA_UNMAP of iova=0x%" PRIx64 " size=0x%" PRIx64
            ": %s",
            iova, size, g_strerror(rerr));
    }
    return true;
}

bool vfio_user_container_unmap(VFIOUserContainer *c, uint64_t iova,
                               uint64_t size, GError **errp)
{
    VFIOUserDMAMapEntry *e;
    bool ok;
    guint i;

    g_mutex_lock(&c->map_lock);
    i = container_upper(c->maps, iova);
    e = i ? &g_array_index(c->maps, VFIOUserDMAMapEntry, i - 1) : NULL;
    if (!e || e->iova != iova || e->size != size) {
        g_mutex_unlock(&c->map_lock);
        return vfio_user_error_set(
            errp, ENOENT, "no DMA map at iova=0x%" PRIx64 " size=0x%" PRIx64,
            iova, size);
    }
    trace_dma_unmap(e->name, iova, size);
    container_remove(c, i - 1);
    vfio_user_container_wait_unpinned(c);
    ok = container_send_unmap(c, iova, size, errp);
    g_mutex_unlock(&c->map_lock);
    return ok;
}

VFIOUserContainer *vfio_user_container_new(VFIOUserProxy *proxy,
                                           VFIOUserDMAAccess policy)
{
    VFIOUserContainer *c = g_new0(VFIOUserContainer, 1);

    c->proxy = proxy;
    c->policy = policy;
    g_mutex_init(&c->map_lock);
    g_rw_lock_init(&c->lock);
    g_mutex_init(&c->pin_lock);
    g_cond_init(&c->pin_cond);
    c->maps = g_array_new(FALSE, FALSE, sizeof(VFIOUserDMAMapEntry));
    c->proc_mem_fd = -1;
    c->bus_master = 1;
    vfio_user_proxy_set_request_handler(proxy,
                                        vfio_user_container_handle_request, c);
    return c;
}

void vfio_user_container_set_bus_master(VFIOUserContainer *c, bool on)
{
    g_atomic_int_set(&c->bus_master, on);
}

void vfio_user_container_free(VFIOUserContainer *c)
{
    bool live;

    if (!c) {
        return;
    }
    g_mutex_lock(&c->map_lock);
    live = vfio_user_proxy_state(c->proxy) == VFIO_PROXY_CONNECTED;
    while (c->maps->len) {
        guint i = c->maps->len - 1;
        VFIOUserDMAMapEntry e = g_array_index(c->maps, VFIOUserDMAMapEntry, i);
        g_autoptr(GError) err = NULL;

        container_remove(c, i);
        if (live && !container_send_unmap(c, e.iova, e.size, &err)) {
            g_warning("%s: section '%s': %s", vfio_user_proxy_label(c->proxy),
                      e.name, err->message);
            live = vfio_user_proxy_state(c->proxy) == VFIO_PROXY_CONNECTED;
        }
    }
    g_mutex_unlock(&c->map_lock);
    vfio_user_proxy_set_request_handler(c->proxy, NULL, NULL);
    /* Wait for replies still using guest memory (and @c). */
    vfio_user_container_wait_unpinned(c);
    if (c->proc_mem_fd >= 0) {
        close(c->proc_mem_fd);
    }
    g_array_free(c->maps, TRUE);
    g_rw_lock_clear(&c->lock);
    g_cond_clear(&c->pin_cond);
    g_mutex_clear(&c->pin_lock);
    g_mutex_clear(&c->map_lock);
    g_free(c);
}

size_t vfio_user_container_maps(VFIOUserContainer *c, VFIOUserDMAMapInfo *out,
                                size_t max)
{
    size_t n;

    g_rw_lock_reader_lock(&c->lock);
    n = c->maps->len;
    for (size_t i = 0; i < n && i < max; i++) {
        VFIOUserDMAMapEntry *e =
            &g_array_index(c->maps, VFIOUserDMAMapEntry, i);
        VFIOUserDMAMapInfo *o = &out[i];

        memcpy(o->name, e->name, sizeof(o->name));
        o->iova = e->iova;
        o->size = e->size;
        o->flags = e->flags;
        o->mode = e->mode;
        o->sent_fd = e->sent_fd;
        o->via_proc_self_mem = e->via_proc_self_mem;
        o->bytes_read = __atomic_load_n(&e->bytes_read, __ATOMIC_RELAXED);
        o->bytes_written = __atomic_load_n(&e->bytes_written, __ATOMIC_RELAXED);
    }
    g_rw_lock_reader_unlock(&c->lock);
    return n;
}

bool vfio_user_container_legacy_server(VFIOUserContainer *c)
{
    return g_atomic_int_get(&c->legacy);
}

void vfio_user_container_stats(VFIOUserContainer *c, VFIOUserDMAStats *out)
{
    out->dma_reads = __atomic_load_n(&c->dma_reads, __ATOMIC_RELAXED);
    out->dma_writes = __atomic_load_n(&c->dma_writes, __ATOMIC_RELAXED);
    out->dma_rejected = __atomic_load_n(&c->dma_rejected, __ATOMIC_RELAXED);
    out->dma_no_master = __atomic_load_n(&c->dma_no_master, __ATOMIC_RELAXED);
}
