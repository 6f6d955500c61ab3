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
#include "system/options-device.h" /* -device, device_add */
#include "system/memory.h"

/* stdio, or unix:PATH[,server[=on|off]][,nowait|,wait=on|off] */
typedef struct CharSpec {
    bool is_stdio;
    char *path;
    bool server;    /* listen on path instead of connecting to it */
    char *log_path; /* -qtest-log: a copy of the traffic goes here */
} CharSpec;

/* -chardev BACKEND,id=ID,... */
typedef struct ChardevSpec {
    char *id;
    CharSpec chr;
    bool used; /* by a -mon */
} ChardevSpec;

/* A monitor: -qmp, -mon chardev=ID,mode=control|readline. */
typedef struct MonSpec {
    CharSpec chr;
    bool control; /* QMP; false: the human monitor */
    bool pretty;  /* QMP: indented output (-mon pretty=on) */
} MonSpec;

typedef struct VmmOptions {
    uint64_t ram_size; /* -m, VMM_DEFAULT_RAM_SIZE by default */
    bool ram_size_set;
    /* Which option named machine_backend, as typed ("-M memory-backend") */
    const char *machine_backend_opt;
    GPtrArray *objects;     /* HostMemoryOptions *, command-line order */
    char *machine_backend;  /* -machine memory-backend= */
    GPtrArray *devices;     /* VFIOUserPCIOptions * */
    GPtrArray *device_args; /* char *: each -device as typed, for messages */
    GArray *device_slots;   /* int: addr= slot of each device, -1: any */
    CharSpec *qtest;
    CharSpec *monitor;
    GPtrArray *chardevs; /* ChardevSpec * */
    GPtrArray *mons;     /* MonSpec *: -qmp, -mon */
    char *qtest_log;     /* -qtest-log */
    char *trace_file;    /* -trace file=: like -D */
    char *logfile;       /* -D */
    char *pidfile;
    char *name;            /* -name */
    bool start_stopped;    /* -S: status "prelaunch" until cont */
    bool exit_with_parent; /* -run-with exit-with-parent=on */
    GString *print;        /* -help, -version, ...,help: print and exit */
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
void char_spec_clear(CharSpec *c);

/* -chardev, -mon, -qmp (system/options-char.c). */
bool vmm_parse_chardev_opt(VmmOptions *o, const char *arg, GError **errp);
bool vmm_parse_mon_opt(VmmOptions *o, const char *arg, GError **errp);
bool vmm_parse_qmp_opt(VmmOptions *o, const char *arg, GError **errp);

/*
 * QEMU options accepted for libqtest and management tools, with QEMU's
 * meaning or as no-ops where nothing applies (see -help):
 * vmm_compat_flag() takes the ones without an argument (-S, -nographic...)
 * and returns false for any other name; vmm_compat_takes_arg() says
 * whether @name is one with an argument, which vmm_parse_compat_opt()
 * then parses.
 */
bool vmm_compat_flag(VmmOptions *o, const char *name);
bool vmm_compat_takes_arg(const char *name);
bool vmm_parse_compat_opt(VmmOptions *o, const char *name, const char *arg,
                          GError **errp);

/* The text of -help. */
void vmm_usage(GString *out);

#endif /* SYSTEM_OPTIONS_H */
