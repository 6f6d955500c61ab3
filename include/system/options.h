/*
 * Command line of vfio-user-vmm, in QEMU's spelling (see -help).
 * Parsing only: nothing is opened or allocated besides the result, so it
 * can be unit tested.  Every error names the option and what was expected.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef SYSTEM_OPTIONS_H
#define SYSTEM_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include "hw/vfio-user/pci.h"
#include "system/memory.h"

/* stdio, or unix:PATH[,server[=on|off]][,nowait|,wait=on|off] */
typedef struct CharSpec {
    bool is_stdio;
    char *path;
    bool server; /* listen on path instead of connecting to it */
} CharSpec;

typedef struct VmmOptions {
    uint64_t ram_size; /* -m, VMM_DEFAULT_RAM_SIZE by default */
    bool ram_size_set;
    GPtrArray *objects;    /* HostMemoryOptions *, command-line order */
    char *machine_backend; /* -machine memory-backend= */
    GPtrArray *devices;    /* VFIOUserPCIOptions * */
    CharSpec *qtest;
    CharSpec *monitor;
    char *logfile; /* -D */
    char *pidfile;
    GString *print; /* -help, -version, ...,help: print and exit */
} VmmOptions;

void vmm_options_init(VmmOptions *o);
void vmm_options_clear(VmmOptions *o);

/*
 * Parse @argv (argv[0] is the program).  On error returns false with a
 * message like "-device vfio-user-pci: dma-access: expected auto, mmap,
 * file-io or message, got 'foo'" (the caller prefixes the program name).
 * When o->print is set afterwards, print it and exit successfully.
 */
bool vmm_parse_args(VmmOptions *o, int argc, char **argv, GError **errp);

/* Sizes: digits with an optional K, M, G or T suffix (powers of 1024);
 * @default_unit applies when there is no suffix. */
bool vmm_parse_size(const char *s, uint64_t default_unit, uint64_t *out);
bool vmm_parse_bool(const char *s, bool *out);
bool vmm_parse_char(const char *s, CharSpec *out, GError **errp);
void char_spec_free(CharSpec *c);

/* The text of -help. */
void vmm_usage(GString *out);

#endif /* SYSTEM_OPTIONS_H */
