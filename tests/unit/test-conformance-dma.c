/*
 * Spec conformance of the client's DMA serving: a server that offered a
 * small max_data_xfer_size may still send DMA_READ / DMA_WRITE up to the
 * client's own limit, since each side's max_data_xfer_size is what that
 * side can receive.  Against the fake server of fake-dma-server.c.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "hw/vfio-user/container.h"
#include "vfio-user/protocol.h"
#include "fake-dma-server.h"
#include "vfu-test.h"

#define IOVA 0x100000u
#define OURS VFIO_USER_DEF_MAX_XFER /* what our client offers */

static void test_dma_up_to_our_limit(void)
{
    FakeConfig cfg = {.max_xfer = 4096};
    VFIOUserProxyOptions opts;
    g_autoptr(GError) err = NULL;
    g_autofree uint8_t *data = g_malloc(OURS + 1);
    g_autofree uint8_t *back = g_malloc0(OURS);
    VFIOUserDMASection s = {.name = "ram0", .iova = IOVA, .fd = -1};
    VFIOUserContainer *c;
    VFIOUserProxy *proxy;
    FakeServer *fs;
    uint8_t *ram;
    int sock;

    fs = fake_server_new(&cfg, &sock);
    vfio_user_proxy_options_init(&opts);
    proxy = vfio_user_proxy_new_from_fd(sock, &opts, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(vfio_user_proxy_caps(proxy)->max_data_xfer_size, ==, 4096);
    c = vfio_user_container_new(proxy, VFIO_USER_DMA_ACCESS_MESSAGE);
    ram = mmap(NULL, 2 * OURS, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    g_assert(ram != MAP_FAILED);
    s.size = 2 * OURS;
    s.host = ram;
    g_assert_true(vfio_user_container_map(c, &s, &err));
    g_assert_no_error(err);

    for (size_t i = 0; i <= OURS; i++) {
        data[i] = (uint8_t)(i * 13 + 5);
    }
    /* The largest transfer our client offered, in one message each way. */
    g_assert_cmpint(fake_server_dma_write(fs, IOVA, OURS, data), ==, 0);
    g_assert_cmpmem(ram, OURS, data, OURS);
    g_assert_cmpint(fake_server_dma_read(fs, IOVA, OURS, back), ==, 0);
    g_assert_cmpmem(back, OURS, data, OURS);
    /* One byte over our own limit is refused; the connection stays. */
    g_assert_cmpint(fake_server_dma_write(fs, IOVA, OURS + 1, data), ==,
                    EMSGSIZE);
    g_assert_cmpint(fake_server_dma_read(fs, IOVA, 16, back), ==, 0);

    vfio_user_container_free(c);
    vfio_user_proxy_close(proxy);
    fake_server_free(fs);
    munmap(ram, 2 * OURS);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/conformance/client/dma/up-to-our-limit",
                    test_dma_up_to_our_limit);
    return g_test_run();
}
