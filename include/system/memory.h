/*
 * Host memory backends for guest RAM (-object memory-backend-*).
 *
 *   memory-backend-ram    anonymous mmap; no fd, so DMA goes by messages
 *                         (or /proc/self/mem with dma-access=file-io)
 *   memory-backend-memfd  memfd_create + ftruncate + MAP_SHARED
 *   memory-backend-file   mem-path=FILE (created or opened, grown to
 *                         offset + size) or a directory (an unlinked
 *                         temporary file in it); offset= places the RAM
 *                         inside a larger file (a multiple of the page size)
 *
 * share=off (default for -file and -ram, like QEMU) maps privately: the
 * file then does not hold what the guest sees, so no fd is offered to
 * devices and DMA goes by messages.  memfd defaults to share=on.
 *
 * seal=on (memfd only, the default as in QEMU) seals the memfd against
 * shrinking and growing (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL): a
 * device server that holds the fd cannot truncate guest RAM under us.
 * A memory-backend-file cannot be sealed; guest RAM accesses go through
 * the SIGBUS guard (vfio-user/guard.h) so that a truncation fails them
 * instead of killing the VMM.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef SYSTEM_MEMORY_H
#define SYSTEM_MEMORY_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

typedef enum HostMemType {
    HOSTMEM_RAM,
    HOSTMEM_MEMFD,
    HOSTMEM_FILE,
} HostMemType;

/* What -object asked for (filled by option parsing). */
typedef struct HostMemoryOptions {
    HostMemType type;
    char *id;
    uint64_t size;
    char *mem_path; /* file backend only */
    bool share;
    bool share_set;  /* share= given explicitly */
    uint64_t offset; /* file backend only */
    bool seal;       /* memfd only */
    bool seal_set;   /* seal= given explicitly */
} HostMemoryOptions;

typedef struct HostMemoryBackend {
    HostMemoryOptions opts;
    uint8_t *host; /* size bytes of guest RAM */
    int fd;        /* fd holding the RAM, -1 for anonymous */
    bool shared;   /* MAP_SHARED: fd content is what the guest sees */
    bool sealed;   /* size sealed: no peer can shrink or grow the fd */
} HostMemoryBackend;

const char *host_mem_type_name(HostMemType t);
/* "memory-backend-ram" etc. to the type; false if unknown. */
bool host_mem_type_parse(const char *s, HostMemType *out);

/*
 * The properties of -object memory-backend-*: one table for the option
 * parser (system/options-machine.c: values, ",help", "is required") and
 * for host_memory_backend_new()'s checks of which type takes what.
 */
typedef enum HostMemPropType {
    HOSTMEM_PROP_ID,     /* char *: a letter, then [A-Za-z0-9-_.] */
    HOSTMEM_PROP_STRING, /* char * */
    HOSTMEM_PROP_SIZE,   /* uint64_t with K/M/G/T suffixes */
    HOSTMEM_PROP_BOOL,   /* bool, and the bool at .given set when given */
} HostMemPropType;

#define HOSTMEM_TYPE_BIT(t) (1u << (t))
#define HOSTMEM_ALL_TYPES                                                      \
    (HOSTMEM_TYPE_BIT(HOSTMEM_RAM) | HOSTMEM_TYPE_BIT(HOSTMEM_MEMFD) |         \
     HOSTMEM_TYPE_BIT(HOSTMEM_FILE))

typedef struct HostMemProp {
    const char *name;
    HostMemPropType type;
    size_t offset;       /* of the field in HostMemoryOptions */
    size_t given;        /* HOSTMEM_PROP_BOOL: offset of its "_set" bool */
    unsigned types;      /* HOSTMEM_TYPE_BIT()s of the types that take it */
    unsigned required;   /* ... and of those that need it */
    bool only_error;     /* other types: "NAME: only TYPE has it", not an
                          * unknown property */
    const char *metavar; /* required: "NAME=METAVAR is required" */
    const char *def;     /* for ,help; NULL: none or required */
    const char *help;
} HostMemProp;

/* The table, in the order of ",help"; NULL when @name is none of it. */
const HostMemProp *host_mem_props(size_t *n);
const HostMemProp *host_mem_prop_find(const char *name);
/* Whether @p was given in @o (a string, a non-zero size, a bool set). */
bool host_mem_prop_given(const HostMemProp *p, const HostMemoryOptions *o);
/* The types that take @p, "memory-backend-file" or "A or B" (g_free). */
char *host_mem_prop_type_names(const HostMemProp *p);

/* Allocate the memory; errors give the cause (the caller names the id). */
HostMemoryBackend *host_memory_backend_new(const HostMemoryOptions *opts,
                                           GError **errp);
void host_memory_backend_free(HostMemoryBackend *b);
void host_memory_options_clear(HostMemoryOptions *o);

/* The fd devices may share (-1 if none) and its offset for RAM byte 0. */
int host_memory_backend_share_fd(const HostMemoryBackend *b, uint64_t *offset);

#endif /* SYSTEM_MEMORY_H */
