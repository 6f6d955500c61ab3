/*
 * Unit tests of the pieces of reconnect-ms (hw/vfio-user/reconnect.c): the
 * retry state machine on a GLib main loop, the device identity comparison,
 * the DMA map record; and the server library's restart-safe memory
 * (VusRegionDesc.mem_path).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include "hw/vfio-user/reconnect.h"
#include "vfio-user/server.h"

typedef struct Attempts {
    unsigned calls;
    unsigned fail_first; /* RETRY this many times, then @final */
    VFIOUserReconnectResult final;
    GMainLoop *loop;
} Attempts;

static VFIOUserReconnectResult fake_attempt(void *opaque, GError **errp)
{
    Attempts *a = opaque;

    if (a->calls++ < a->fail_first) {
        g_set_error(errp, VFIO_USER_ERROR, ECONNREFUSED, "attempt %u refused",
                    a->calls);
        return VFIO_USER_RECONNECT_RETRY;
    }
    if (a->final == VFIO_USER_RECONNECT_GIVE_UP) {
        g_set_error(errp, VFIO_USER_ERROR, ENODEV, "other device");
    }
    g_main_loop_quit(a->loop);
    return a->final;
}

static gboolean too_long(gpointer p)
{
    (void)p;
    g_error("the reconnect timer never finished");
    return G_SOURCE_REMOVE;
}

static void run_machine(VFIOUserReconnectResult final, VFIOUserReconnect *r,
                        Attempts *a)
{
    guint guard;

    a->fail_first = 2;
    a->final = final;
    a->loop = g_main_loop_new(NULL, FALSE);
    vfio_user_reconnect_init(r, "dev 'x'", 1, fake_attempt, a);
    g_assert_false(vfio_user_reconnect_active(r));
    vfio_user_reconnect_start(r, "peer closed the connection");
    vfio_user_reconnect_start(r, "a second failure report"); /* no-op */
    g_assert_true(vfio_user_reconnect_active(r));
    g_assert_cmpuint(r->disconnects, ==, 1);
    g_assert_cmpstr(r->last_error, ==, "peer closed the connection");
    guard = g_timeout_add_seconds(20, too_long, NULL);
    g_main_loop_run(a->loop);
    g_source_remove(guard);
    g_main_loop_unref(a->loop);
    g_assert_cmpuint(a->calls, ==, 3);
    g_assert_cmpuint(r->retries, ==, 2);
    g_assert_cmpuint(r->timer, ==, 0);
}

static void test_state_reconnects(void)
{
    VFIOUserReconnect r;
    Attempts a = {0};
    GString *out = g_string_new(NULL);

    run_machine(VFIO_USER_RECONNECT_OK, &r, &a);
    g_assert_cmpint(r.state, ==, VFIO_USER_RECONNECT_IDLE);
    g_assert_cmpuint(r.reconnects, ==, 1);
    vfio_user_reconnect_info(&r, out);
    g_assert_nonnull(strstr(
        out->str,
        "reconnect-ms 1: connected, retries 2, disconnects 1, reconnects 1,"));
    g_assert_nonnull(strstr(out->str, "attempt 2 refused"));
    /* the next outage starts counting again */
    vfio_user_reconnect_start(&r, "again");
    g_assert_cmpuint(r.retries, ==, 0);
    g_assert_cmpuint(r.disconnects, ==, 2);
    vfio_user_reconnect_cleanup(&r); /* removes the armed timer */
    g_string_free(out, TRUE);
}

static void test_state_gives_up(void)
{
    VFIOUserReconnect r;
    Attempts a = {0};

    run_machine(VFIO_USER_RECONNECT_GIVE_UP, &r, &a);
    g_assert_cmpint(r.state, ==, VFIO_USER_RECONNECT_GAVE_UP);
    g_assert_true(vfio_user_reconnect_active(&r));
    g_assert_cmpstr(r.last_error, ==, "other device");
    g_assert_cmpuint(r.reconnects, ==, 0);
    vfio_user_reconnect_start(&r, "ignored once given up");
    g_assert_cmpuint(r.timer, ==, 0);
    vfio_user_reconnect_cleanup(&r);
}

static void test_state_off(void)
{
    VFIOUserReconnect r;
    Attempts a = {0};
    GString *out = g_string_new(NULL);

    vfio_user_reconnect_init(&r, "dev", 0, fake_attempt, &a);
    vfio_user_reconnect_start(&r, "failed");
    g_assert_false(vfio_user_reconnect_active(&r));
    g_assert_cmpuint(r.timer, ==, 0);
    vfio_user_reconnect_info(&r, out);
    g_assert_cmpstr(out->str, ==, "  reconnect: off (reconnect-ms=0)\n");
    vfio_user_reconnect_cleanup(&r);
    g_string_free(out, TRUE);
}

static void assert_differs(const VFIOUserDeviceIdentity *was,
                           const VFIOUserDeviceIdentity *now, const char *msg)
{
    GError *err = NULL;

    g_assert_false(vfio_user_device_identity_compare(was, now, &err));
    g_assert_cmpstr(err->message, ==, msg);
    g_error_free(err);
}

static void test_identity(void)
{
    VFIOUserDeviceIdentity was = {
        .vendor_id = 0x1234,
        .device_id = 0x11e8,
        .class_rev = 0x00ff0010,
        .num_regions = 9,
        .num_irqs = 5,
    };
    VFIOUserDeviceIdentity now = was;

    was.region_size[0] = now.region_size[0] = 1 << 20;
    was.irq_count[1] = now.irq_count[1] = 1;
    g_assert_true(vfio_user_device_identity_compare(&was, &now, NULL));
    now.vendor_id = 0x4e58;
    assert_differs(&was, &now,
                   "a different device answered: vendor id 0x4e58, was 0x1234");
    now = was;
    now.region_size[0] = 4096;
    assert_differs(
        &was, &now,
        "a different device answered: region 0 size 0x1000, was 0x100000");
    now = was;
    now.bar_type[2] = 0xc;
    assert_differs(&was, &now,
                   "a different device answered: BAR2 type bits 0xc, was 0x0");
    now = was;
    now.num_caps = was.num_caps = 1;
    was.cap[0] = 0x5005; /* MSI at 0x50 */
    now.cap[0] = 0x6005;
    assert_differs(
        &was, &now,
        "a different device answered: capability 0 (flags << 16 | offset << 8 | id) 0x6005, was 0x5005");
    now = was;
    now.irq_count[1] = 4;
    assert_differs(
        &was, &now,
        "a different device answered: irq 1 vector count 0x4, was 0x1");
}

static void test_dma_replay(void)
{
    VFIOUserDMAReplay *l = vfio_user_dma_replay_new();
    char name[] = "ram0";
    VFIOUserDMASection s = {.name = name, .iova = 0, .size = 4096, .fd = -1};

    vfio_user_dma_replay_add(l, &s);
    name[0] = 'X'; /* the record has its own copy */
    s.iova = 8192;
    s.name = "ram1";
    vfio_user_dma_replay_add(l, &s);
    g_assert_cmpuint(vfio_user_dma_replay_count(l), ==, 2);
    g_assert_false(vfio_user_dma_replay_remove(l, 0, 8192));
    g_assert_true(vfio_user_dma_replay_remove(l, 0, 4096));
    g_assert_false(vfio_user_dma_replay_remove(l, 0, 4096));
    g_assert_cmpuint(vfio_user_dma_replay_count(l), ==, 1);
    vfio_user_dma_replay_free(l);
}

/* A memory region kept in a file: the next server sees the same bytes. */
static VusServer *mem_server(const char *path, uint64_t size, uint8_t **mem,
                             GError **errp)
{
    VusServer *srv = vus_server_new(NULL, NULL, errp);
    VusRegionDesc d = {
        .size = size,
        .flags = VUS_REGION_F_RW,
        .mem = true,
        .mem_path = path,
    };

    g_assert_nonnull(srv);
    if (!vus_server_setup_region(srv, VFIO_PCI_BAR0_REGION_INDEX, &d,
                                 (void **)mem, errp)) {
        vus_server_free(srv);
        return NULL;
    }
    return srv;
}

static ssize_t no_access(void *opaque, bool is_write, uint64_t off, void *buf,
                         size_t len)
{
    (void)opaque, (void)is_write, (void)off, (void)buf;
    return len;
}

static void test_server_mem_file(void)
{
    g_autofree char *dir = g_dir_make_tmp("vfu-rc-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "bar0", NULL);
    VusServer *srv;
    uint8_t *mem = NULL;
    GError *err = NULL;
    VusRegionDesc bad = {.size = 4096,
                         .flags = VUS_REGION_F_RW,
                         .access = no_access,
                         .mem_path = path};

    srv = mem_server(path, 8192, &mem, &err);
    g_assert_no_error(err);
    memset(mem, 0xa5, 8192);
    vus_server_free(srv);
    srv = mem_server(path, 8192, &mem, &err);
    g_assert_no_error(err);
    g_assert_cmphex(mem[0], ==, 0xa5);
    g_assert_cmphex(mem[8191], ==, 0xa5);
    vus_server_free(srv);
    /* a file of another size is not silently cut or grown */
    g_assert_null(mem_server(path, 4096, &mem, &err));
    g_assert_error(err, VFIO_USER_ERROR, EINVAL);
    g_assert_nonnull(strstr(err->message, "holds 8192 bytes, not 4096"));
    g_clear_error(&err);
    srv = vus_server_new(NULL, NULL, &err);
    g_assert_false(vus_server_setup_region(srv, VFIO_PCI_BAR0_REGION_INDEX,
                                           &bad, NULL, &err));
    g_assert_nonnull(strstr(err->message, "mem_path without mem"));
    g_clear_error(&err);
    vus_server_free(srv);
    g_assert_cmpint(g_unlink(path), ==, 0);
    g_assert_cmpint(g_rmdir(dir), ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/reconnect/state/reconnects", test_state_reconnects);
    g_test_add_func("/reconnect/state/gives-up", test_state_gives_up);
    g_test_add_func("/reconnect/state/off", test_state_off);
    g_test_add_func("/reconnect/identity", test_identity);
    g_test_add_func("/reconnect/dma-replay", test_dma_replay);
    g_test_add_func("/reconnect/server-mem-file", test_server_mem_file);
    return g_test_run();
}
