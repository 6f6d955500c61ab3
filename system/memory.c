/*
 * Host memory backends: anonymous RAM, memfd and file-backed guest memory.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "system/memory.h"
#include "vfio-user/error.h"

static const char *const type_names[] = {
    [HOSTMEM_RAM] = "memory-backend-ram",
    [HOSTMEM_MEMFD] = "memory-backend-memfd",
    [HOSTMEM_FILE] = "memory-backend-file",
};

const char *host_mem_type_name(HostMemType t)
{
    return t < G_N_ELEMENTS(type_names) ? type_names[t] : "?";
}

bool host_mem_type_parse(const char *s, HostMemType *out)
{
    for (unsigned i = 0; i < G_N_ELEMENTS(type_names); i++) {
        if (g_strcmp0(s, type_names[i]) == 0) {
            *out = i;
            return true;
        }
    }
    return false;
}

#define HM(field) offsetof(HostMemoryOptions, field)
#define HM_FILE HOSTMEM_TYPE_BIT(HOSTMEM_FILE)
#define HM_MEMFD HOSTMEM_TYPE_BIT(HOSTMEM_MEMFD)

static const HostMemProp props[] = {
    {"id", HOSTMEM_PROP_ID, HM(id), .types = HOSTMEM_ALL_TYPES,
     .required = HOSTMEM_ALL_TYPES, .metavar = "ID",
     .help = "name used by -machine memory-backend="},
    {"size", HOSTMEM_PROP_SIZE, HM(size), .types = HOSTMEM_ALL_TYPES,
     .required = HOSTMEM_ALL_TYPES, .metavar = "SIZE",
     .help = "bytes, K/M/G/T suffixes"},
    {"mem-path", HOSTMEM_PROP_STRING, HM(mem_path), .types = HM_FILE,
     .required = HM_FILE, .metavar = "PATH", .help = "file or directory"},
    {"share", HOSTMEM_PROP_BOOL, HM(share), HM(share_set), HOSTMEM_ALL_TYPES,
     .def = "on for memfd, off otherwise",
     .help = "MAP_SHARED; off keeps the fd from devices"},
    {"offset", HOSTMEM_PROP_SIZE, HM(offset), .types = HM_FILE,
     .only_error = true, .def = "0",
     .help = "where guest RAM starts in the file"},
    {"seal", HOSTMEM_PROP_BOOL, HM(seal), HM(seal_set), HM_MEMFD, .def = "on",
     .help = "seal its size against the server"},
};

const HostMemProp *host_mem_props(size_t *n)
{
    *n = G_N_ELEMENTS(props);
    return props;
}

const HostMemProp *host_mem_prop_find(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(props); i++) {
        if (!strcmp(props[i].name, name)) {
            return &props[i];
        }
    }
    return NULL;
}

bool host_mem_prop_given(const HostMemProp *p, const HostMemoryOptions *o)
{
    const char *field = (const char *)o + p->offset;

    switch (p->type) {
    case HOSTMEM_PROP_ID:
    case HOSTMEM_PROP_STRING:
        return *(char *const *)field != NULL;
    case HOSTMEM_PROP_SIZE:
        return *(const uint64_t *)field != 0;
    case HOSTMEM_PROP_BOOL:
        return *(const bool *)((const char *)o + p->given);
    }
    g_assert_not_reached();
}

char *host_mem_prop_type_names(const HostMemProp *p)
{
    GString *out = g_string_new(NULL);

    for (unsigned t = 0; t < G_N_ELEMENTS(type_names); t++) {
        if (p->types & HOSTMEM_TYPE_BIT(t)) {
            g_string_append_printf(out, "%s%s", out->len ? " or " : "",
                                   type_names[t]);
        }
    }
    return g_string_free(out, FALSE);
}

void host_memory_options_clear(HostMemoryOptions *o)
{
    g_clear_pointer(&o->id, g_free);
    g_clear_pointer(&o->mem_path, g_free);
}

/* Open (or create) the file at mem-path; a directory gets a temp file. */
static int hostmem_open_file(const HostMemoryOptions *o, GError **errp)
{
    struct stat st;
    int fd;

    if (stat(o->mem_path, &st) == 0 && S_ISDIR(st.st_mode)) {
        char *tmpl =
            g_build_filename(o->mem_path, "vfio-user-vmm.XXXXXX", NULL);

        fd = g_mkstemp_full(tmpl, O_RDWR | O_CLOEXEC, 0600);
        if (fd >= 0) {
            unlink(tmpl);
        }
        g_free(tmpl);
    } else {
        g_autofree char *dir = g_path_get_dirname(o->mem_path);
        g_autofree char *base = g_path_get_basename(o->mem_path);

        if (stat(o->mem_path, &st) < 0 &&
            (!strcmp(dir, "/dev") || strstr(base, "hugepages"))) {
            /* Not a file to create: a hugetlbfs mount point that is absent. */
            vfio_user_error_set(
                errp, ENOENT,
                "mem-path '%s' does not exist (is hugetlbfs mounted there?)",
                o->mem_path);
            return -1;
        }
        fd = open(o->mem_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    }
    if (fd < 0) {
        vfio_user_error_set(errp, errno, "cannot open mem-path '%s': %s",
                            o->mem_path, g_strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) < 0 || ((uint64_t)st.st_size < o->offset + o->size &&
                               ftruncate(fd, o->offset + o->size) < 0)) {
        vfio_user_error_set(
            errp, errno, "cannot size '%s' to %" PRIu64 " bytes: %s",
            o->mem_path, o->offset + o->size, g_strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static bool hostmem_seal(int fd, GError **errp)
{
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
        return vfio_user_error_set(errp, errno, "cannot seal memfd: %s",
                                   g_strerror(errno));
    }
    return true;
}

static int hostmem_open_memfd(const HostMemoryOptions *o, bool seal,
                              GError **errp)
{
    int fd = memfd_create(o->id, MFD_CLOEXEC | (seal ? MFD_ALLOW_SEALING : 0));

    if (fd < 0) {
        vfio_user_error_set(errp, errno, "memfd_create failed: %s",
                            g_strerror(errno));
        return -1;
    }
    if (ftruncate(fd, o->size) < 0) {
        vfio_user_error_set(errp, errno,
                            "cannot size memfd to %" PRIu64 " bytes: %s",
                            o->size, g_strerror(errno));
        close(fd);
        return -1;
    }
    if (seal && !hostmem_seal(fd, errp)) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool hostmem_check(const HostMemoryOptions *o, GError **errp)
{
    uint64_t page = sysconf(_SC_PAGESIZE);

    if (!o->size || o->size % page) {
        return vfio_user_error_set(
            errp, EINVAL, "size must be a non-zero multiple of %" PRIu64, page);
    }
    if (o->size > SIZE_MAX || o->offset + o->size < o->offset) {
        return vfio_user_error_set(errp, EINVAL, "size too large");
    }
    for (size_t i = 0; i < G_N_ELEMENTS(props); i++) {
        const HostMemProp *p = &props[i];
        bool given = host_mem_prop_given(p, o);

        if (given && !(p->types & HOSTMEM_TYPE_BIT(o->type))) {
            g_autofree char *only = host_mem_prop_type_names(p);

            return vfio_user_error_set(errp, EINVAL, "%s is for %s only",
                                       p->name, only);
        }
        if (!given && (p->required & HOSTMEM_TYPE_BIT(o->type))) {
            return vfio_user_error_set(errp, EINVAL, "%s needs %s",
                                       host_mem_type_name(o->type), p->name);
        }
    }
    if (o->offset % page) {
        return vfio_user_error_set(
            errp, EINVAL, "offset must be a multiple of %" PRIu64, page);
    }
    return true;
}

HostMemoryBackend *host_memory_backend_new(const HostMemoryOptions *opts,
                                           GError **errp)
{
    HostMemoryBackend *b;
    int fd = -1, flags;
    bool share, seal;
    void *p;

    if (!hostmem_check(opts, errp)) {
        return NULL;
    }
    share = opts->share_set ? opts->share : opts->type == HOSTMEM_MEMFD;
    seal = opts->type == HOSTMEM_MEMFD && (!opts->seal_set || opts->seal);
    if (opts->type == HOSTMEM_FILE) {
        fd = hostmem_open_file(opts, errp);
    } else if (opts->type == HOSTMEM_MEMFD ||
               (opts->type == HOSTMEM_RAM && share)) {
        /* share=on anonymous RAM is a memfd, as in QEMU, so that devices
         * can map it. */
        fd = hostmem_open_memfd(opts, seal, errp);
    }
    if ((opts->type != HOSTMEM_RAM || share) && fd < 0) {
        return NULL;
    }
    flags = share ? MAP_SHARED : MAP_PRIVATE;
    if (fd < 0) {
        flags |= MAP_ANONYMOUS;
    }
    p = mmap(NULL, opts->size, PROT_READ | PROT_WRITE, flags, fd,
             fd < 0 ? 0 : (off_t)opts->offset);
    if (p == MAP_FAILED) {
        vfio_user_error_set(errp, errno, "cannot map %" PRIu64 " bytes: %s",
                            opts->size, g_strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return NULL;
    }
    b = g_new0(HostMemoryBackend, 1);
    b->opts = *opts;
    b->opts.id = g_strdup(opts->id);
    b->opts.mem_path = g_strdup(opts->mem_path);
    b->host = p;
    b->fd = fd;
    b->shared = share && fd >= 0;
    b->sealed = seal;
    return b;
}

void host_memory_backend_free(HostMemoryBackend *b)
{
    if (!b) {
        return;
    }
    munmap(b->host, b->opts.size);
    if (b->fd >= 0) {
        close(b->fd);
    }
    host_memory_options_clear(&b->opts);
    g_free(b);
}

int host_memory_backend_share_fd(const HostMemoryBackend *b, uint64_t *offset)
{
    if (!b->shared) {
        *offset = 0;
        return -1;
    }
    *offset = b->opts.offset;
    return b->fd;
}
