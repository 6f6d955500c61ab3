/*
 * Shared support for the unit tests: a keep-going g_test_init(), resource
 * counters for leak checks, the recorded sessions in tests/data, temporary
 * socket directories and UNIX sockets, an address-space limit, a one-shot
 * event, deadlines and a poll-based "is there something to read" check.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef VFU_TEST_H
#define VFU_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <glib.h>

#include "vfio-user/protocol.h"

/*
 * g_test_init() with --keep-going added to the arguments, so that one run
 * goes on past a failed case and reports every failure.
 */
void vfu_test_init_keep_going(int *argc, char ***argv);

/* Open file descriptors of this process (the counter's own one excluded). */
unsigned vfu_test_count_fds(void);

/*
 * Mappings of this process (lines of /proc/self/maps).  Under ASan only
 * the named ones: its allocator maps anonymous memory on its own schedule.
 */
unsigned vfu_test_count_maps(void);

/* Threads of this process. */
unsigned vfu_test_count_threads(void);

/* One message of a recorded session (a line of a tests/data .jsonl file). */
typedef struct VfuTestRecord {
    bool c2s;           /* sent by the client */
    VFIOUserHdr hdr;    /* as on the wire (flags from type/no_reply/error) */
    GBytes *payload;    /* recorded bytes (maybe only the first ones) */
    size_t payload_len; /* full length on the wire */
    bool truncated;     /* payload holds fewer bytes than payload_len */
    unsigned nfds;      /* fds that travelled with the message */
} VfuTestRecord;

/*
 * Load a recorded session: @name is relative to tests/data unless it is
 * an absolute path.  Returns an array of VfuTestRecord, in file order.
 */
GPtrArray *vfu_test_load_session(const char *name);

/* A new private directory for sockets; @prefix starts its name. */
char *vfu_test_sock_dir_new(const char *prefix);

/*
 * Remove @path (when not NULL, and if still there), then the directory
 * @dir; returns whether @dir is gone.
 */
bool vfu_test_sock_dir_remove(const char *dir, const char *path);

/* A UNIX stream socket bound to @path, not listening. */
int vfu_test_unix_bind(const char *path);

/* A UNIX stream socket connected to @path. */
int vfu_test_unix_connect(const char *path);

/*
 * Until vfu_test_unlimit_address_space(), an allocation of a large size
 * (say a peer-chosen one) fails and so aborts the test.  Does nothing
 * under ASan, which reserves terabytes of shadow address space.
 */
void vfu_test_limit_address_space(void);
void vfu_test_unlimit_address_space(void);

/* How long a test waits for something that should happen at once. */
#define VFU_TEST_WAIT_MS 10000

/* A one-shot event between a test and its threads. */
typedef struct VfuTestEvent {
    GMutex lock; /* guards set */
    GCond cond;  /* broadcast when set becomes true */
    bool set;
} VfuTestEvent;

void vfu_test_event_init(VfuTestEvent *e);
void vfu_test_event_set(VfuTestEvent *e);
/* Whether @e was set, waiting at most @ms milliseconds for it. */
bool vfu_test_event_wait(VfuTestEvent *e, unsigned ms);
void vfu_test_event_clear(VfuTestEvent *e);

/* Monotonic time @ms milliseconds from now (for g_cond_wait_until). */
gint64 vfu_test_deadline_ms(unsigned ms);

/* Whether @fd becomes readable (or hangs up) within @ms milliseconds. */
bool vfu_test_readable(int fd, int ms);

#endif /* VFU_TEST_H */
