/*
 * Unit tests of libvfio-user-server's handling of posted writes sent one
 * by one: after a run of them the serving loop gives up the CPU once
 * before it waits again (server/serve.c), so that a sender on the same
 * CPU keeps sending.  The server here has no ioeventfd and no
 * message-mode map, so it waits in a blocking recvmsg(), the mode the
 * benchmark's device runs in.  These tests check what must hold whatever
 * the scheduler does: every write lands, in order, before a later
 * request is answered; a request after a run is answered; and a server
 * that has served a run and then gets nothing does not spin.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include <time.h>
#include "raw-client.h"
#include "vfu-test.h"

#define SLOTS 64 /* 4-byte registers written, at 0x400 on */
#define SLOT_BASE 0x400

static void posted_write(Srv *s, uint32_t slot, uint32_t v)
{
    VFIOUserRegionRW rw = {.offset = SLOT_BASE + slot * 4,
                           .region = VFIO_PCI_BAR0_REGION_INDEX,
                           .count = 4};
    uint8_t w[sizeof(rw) + 4];

    memcpy(w, &rw, sizeof(rw));
    memcpy(w + sizeof(rw), &v, 4);
    cl_send(s, VFIO_USER_REGION_WRITE, VFIO_USER_F_NO_REPLY, w, sizeof(w), NULL,
            0);
}

/* Every slot holds the value of pass @pass. */
static void check_slots(Srv *s, uint32_t pass)
{
    uint32_t got[SLOTS];

    g_assert_cmpint(
        region_read(s, VFIO_PCI_BAR0_REGION_INDEX, SLOT_BASE, sizeof(got), got),
        ==, 0);
    for (uint32_t i = 0; i < SLOTS; i++) {
        g_assert_cmpuint(got[i], ==, pass * SLOTS + i);
    }
}

/*
 * Runs of posted writes, each slot written once per pass, each run ended
 * by a waited-for read: the read sees every write of its run, and the
 * last write of each slot, never an earlier one.
 */
static void test_runs_in_order(void)
{
    Srv *s = srv_ready();

    for (uint32_t pass = 0; pass < 20; pass++) {
        for (uint32_t rep = 0; rep < 3; rep++) {
            for (uint32_t i = 0; i < SLOTS; i++) {
                posted_write(s, i, (pass - (2 - rep)) * SLOTS + i);
            }
        }
        check_slots(s, pass);
    }
    srv_end(s);
}

/* One posted write, then at once a request: it is answered. */
static void test_request_after_one(void)
{
    Srv *s = srv_ready();

    for (uint32_t n = 0; n < 200; n++) {
        posted_write(s, n % SLOTS, n);
        assert_alive(s);
    }
    srv_end(s);
}

static double process_cpu_ms(void)
{
    struct timespec ts;

    g_assert_cmpint(clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts), ==, 0);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/*
 * After a run of posted writes and nothing else, the server waits: over
 * a 200 ms window this process (the server thread and the test, which
 * sleeps) uses far less CPU than a loop that kept yielding would.
 */
static void test_idle_after_run(void)
{
    Srv *s = srv_ready();
    double t0;

    for (uint32_t i = 0; i < SLOTS; i++) {
        posted_write(s, i, i);
    }
    check_slots(s, 0); /* the run has been served */
    for (uint32_t i = 0; i < SLOTS; i++) {
        posted_write(s, i, SLOTS + i);
    }
    t0 = process_cpu_ms();
    g_usleep(200 * 1000); /* an observation window, not a synchronisation */
    g_assert_cmpfloat(process_cpu_ms() - t0, <, 100);
    check_slots(s, 1);
    srv_end(s);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/server-posted/runs-in-order", test_runs_in_order);
    g_test_add_func("/server-posted/request-after-one", test_request_after_one);
    g_test_add_func("/server-posted/idle-after-run", test_idle_after_run);
    return g_test_run();
}
