/*
 * Unit tests for util/guard.c: a SIGBUS in a guarded copy from or to a
 * mapping whose file was truncated ends the copy with false, the process
 * lives on, and a SIGBUS outside any guard still kills the process.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include "vfio-user/guard.h"
#include "vfu-test.h"

#define PG 4096

/* Two pages of a memfd, mapped; the file then shrunk to one page. */
static uint8_t *shrunk_mapping(int *fdp)
{
    int fd = memfd_create("guard", MFD_CLOEXEC);
    uint8_t *p;

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, 2 * PG), ==, 0);
    p = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    g_assert(p != MAP_FAILED);
    memset(p, 0x5a, 2 * PG);
    g_assert_cmpint(ftruncate(fd, PG), ==, 0);
    *fdp = fd;
    return p;
}

static void test_guard_copy(void)
{
    int fd, fds = vut_count_fds();
    uint8_t *p = shrunk_mapping(&fd);
    uint8_t buf[2 * PG];
    unsigned long faults = vfio_user_guard_faults();

    /* the page that is still there */
    g_assert_true(vfio_user_guard_copy(buf, p, PG, true));
    g_assert_cmpuint(buf[PG - 1], ==, 0x5a);
    /* reading or writing the lost page fails, again and again */
    for (int i = 0; i < 3; i++) {
        g_assert_false(vfio_user_guard_copy(buf, p, 2 * PG, true));
        g_assert_false(vfio_user_guard_copy(p + PG, buf, 16, false));
    }
    g_assert_cmpuint(vfio_user_guard_faults(), ==, faults + 6);
    /* and the guard is gone after each call */
    g_assert_true(vfio_user_guard_copy(p, buf, 16, false));
    munmap(p, 2 * PG);
    close(fd);
    g_assert_cmpint(vut_count_fds(), ==, fds);
}

/* A fault outside the guarded range is not swallowed: the child dies. */
static void test_guard_other_range(void)
{
    int fd, status;
    uint8_t *p = shrunk_mapping(&fd);
    uint8_t other[16] = {0};
    pid_t pid;

    vfio_user_guard_copy(other, other + 8, 8, true); /* handler installed */
    pid = fork();
    g_assert_cmpint(pid, >=, 0);
    if (pid == 0) {
        volatile uint8_t v = p[PG]; /* unguarded */
        (void)v;
        _exit(0);
    }
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    /* killed by SIGBUS, or (sanitizer build) the sanitizer's handler,
     * which we chained to, reported the fault and exited or aborted */
    if (WIFSIGNALED(status)) {
        g_assert_true(WTERMSIG(status) == SIGBUS ||
                      WTERMSIG(status) == SIGABRT);
    } else {
        g_assert_true(WIFEXITED(status));
        g_assert_cmpint(WEXITSTATUS(status), !=, 0);
    }
    munmap(p, 2 * PG);
    close(fd);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/guard/copy", test_guard_copy);
    g_test_add_func("/guard/other-range", test_guard_other_range);
    return g_test_run();
}
