/*
 * Qtest support for fault tests: a fake vfio-user server in the test
 * process, and looking into the VMM and server processes (pid, open fds,
 * a copy of a process's connected socket, stopping it for certain).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef TESTS_QTEST_FAULT_RIG_H
#define TESTS_QTEST_FAULT_RIG_H

#include <stdbool.h>
#include <glib.h>
#include "vfio-user/protocol.h"

/*
 * A fake server in the test process: accepts one connection on a thread,
 * reads the VERSION header and then either closes at once (@die) or
 * keeps reading, never answering, until the VMM hangs up.
 */
typedef struct FakeServer {
    char *dir;
    char *path;
    int lfd;
    bool die;
    GThread *thread;
    /* written by the thread, read after g_thread_join() */
    bool got_version; /* a VERSION request header arrived */
    bool saw_eof;     /* the VMM closed the connection */
} FakeServer;

/* Listen on a fresh socket, accept on a thread; @die: close after the
 * VERSION request, else read until the peer hangs up. */
FakeServer *fake_server_start(bool die);
/* Wait for the thread (its waits have deadlines). */
void fake_server_join(FakeServer *fs);
void fake_server_free(FakeServer *fs);

/* Seconds since @t0 (monotonic us). */
double faults_elapsed(gint64 t0);
/* Wait up to the qtest deadline for @fd to be readable. */
bool faults_wait_readable(int fd);
/* The VMM's process id, from the pid file "vmm.pid" it wrote in @dir. */
GPid faults_vmm_pid(const char *dir);
/* Number of open fds of @pid; how many are sockets in *@sockets. */
unsigned faults_count_fds(GPid pid, unsigned *sockets);
/* The process id of our only running sample server. */
GPid faults_server_pid(void);
/* SIGSTOP our child @pid and wait until it really is stopped. */
void faults_stop(GPid pid);
/* A copy of @owner's connected socket to @peer (to anyone when 0). */
int faults_steal_conn(GPid owner, GPid peer);
/* The first message header waiting in @fd, left in place. */
VFIOUserHdr faults_peek_hdr(int fd);

#endif /* TESTS_QTEST_FAULT_RIG_H */
