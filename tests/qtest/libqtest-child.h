/*
 * libqtest internals: spawned children (the VMM, sample servers) whose
 * output is collected while the library waits, and the wait primitive all
 * of libqtest is built on.  Private to tests/qtest.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef TESTS_QTEST_LIBQTEST_CHILD_H
#define TESTS_QTEST_LIBQTEST_CHILD_H

#include <stdbool.h>
#include <glib.h>

/* One spawned process.  Single-threaded test code only. */
struct QTestChild {
    char *name; /* prefix of echoed lines, e.g. "vmm" */
    GPid pid;
    int pidfd;  /* readable once the child exited; -1 if unsupported */
    int out_fd; /* -1 after EOF */
    int err_fd; /* -1 after EOF */
    GString *out;
    GString *err;
    bool exited;
    int status; /* wait status, valid once exited */
};

typedef struct QTestChild QTestChild;

/* Spawn @argv with piped stdout/stderr; aborts the test on failure. */
QTestChild *qtest_child_spawn(const char *name, char **argv);
/*
 * Wait until @fd (if >= 0) is readable, any child produced output or
 * exited, or @deadline (monotonic us) passed.  Returns true when @fd is
 * readable.  Reads children's output as a side effect.
 */
bool qtest_pump(int fd, gint64 deadline);
/* Wait for @c to exit until @deadline; true if it has. */
bool qtest_child_wait(QTestChild *c, gint64 deadline);
/* Send @sig (if still running), reap with the default timeout. */
void qtest_child_kill(QTestChild *c, int sig);
/* Reap (killing if needed) and free. */
void qtest_child_free(QTestChild *c);
/*
 * Fail the test if @c's stderr holds a sanitizer or GLib error report,
 * or, with @clean_exit, if it exited with a non-zero status.
 */
void qtest_child_assert_sane(QTestChild *c, bool clean_exit);
/* Print what every live child said to stderr (failure diagnostics). */
void qtest_dump_children(void);
/* Monotonic deadline @ms from now. */
gint64 qtest_deadline(int ms);

#endif /* TESTS_QTEST_LIBQTEST_CHILD_H */
