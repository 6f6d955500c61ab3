/*
 * Shared support for the unit tests: a keep-going g_test_init(), resource
 * counters for leak checks, the recorded sessions in tests/data, temporary
 * socket directories and UNIX sockets, an address-space limit, a one-shot
 * event, deadlines and a poll-based "is there something to read" check.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef VUT_H
#define VUT_H

#include <stdbool.h>
#include <stddef.h>
#include <glib.h>

#include "vfio-user/protocol.h"

/*
 * g_test_init() with --keep-going added to the arguments, so that one run
 * goes on past a failed case and reports every failure.
 */
void vut_init_keep_going(int *argc, char ***argv);

/* Open file descriptors of this process (the counter's own one excluded). */
unsigned vut_count_fds(void);

/*
 * Mappings of this process (lines of /proc/self/maps).  Under ASan only
 * the named ones: its allocator maps anonymous memory on its own schedule.
 */
unsigned vut_count_maps(void);

/* Threads of this process. */
unsigned vut_count_threads(void);

/* One message of a recorded session (a line of a tests/data .jsonl file). */
typedef struct VutRecord {
    bool c2s;           /* sent by the client */
    VFIOUserHdr hdr;    /* as on the wire (flags from type/no_reply/error) */
    GBytes *payload;    /* recorded bytes (maybe only the first ones) */
    size_t payload_len; /* full length on the wire */
    bool truncated;     /* payload holds fewer bytes than payload_len */
    unsigned nfds;      /* fds that travelled with the message */
} VutRecord;

/*
 * Load a recorded session: @name is relative to tests/data unless it is
 * an absolute path.  Returns an array of VutRecord, in file order.
 */
GPtrArray *vut_load_session(const char *name);

/* A new private directory for sockets; @prefix starts its name. */
char *vut_sock_dir_new(const char *prefix);

/*
 * Remove @path (when not NULL, and if still there), then the directory
 * @dir; returns whether @dir is gone.
 */
bool vut_sock_dir_remove(const char *dir, const char *path);

/* A UNIX stream socket bound to @path, not listening. */
int vut_unix_bind(const char *path);

/* A UNIX stream socket connected to @path. */
int vut_unix_connect(const char *path);

/*
 * Until vut_unlimit_address_space(), an allocation of a large size
 * (say a peer-chosen one) fails and so aborts the test.  Does nothing
 * under ASan, which reserves terabytes of shadow address space.
 */
void vut_limit_address_space(void);
void vut_unlimit_address_space(void);

/* How long a test waits for something that should happen at once. */
#define VUT_WAIT_MS 10000

/* A one-shot event between a test and its threads. */
typedef struct VutEvent {
    GMutex lock; /* guards set */
    GCond cond;  /* broadcast when set becomes true */
    bool set;
} VutEvent;

void vut_event_init(VutEvent *e);
void vut_event_set(VutEvent *e);
/* Whether @e was set, waiting at most @ms milliseconds for it. */
bool vut_event_wait(VutEvent *e, unsigned ms);
void vut_event_clear(VutEvent *e);

/* Monotonic time @ms milliseconds from now (for g_cond_wait_until). */
gint64 vut_deadline_ms(unsigned ms);

/* Whether @fd becomes readable (or hangs up) within @ms milliseconds. */
bool vut_readable(int fd, int ms);

#endif /* VUT_H */
