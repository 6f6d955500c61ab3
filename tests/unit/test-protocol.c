/*
 * Wire layout tests: our packed structs produce the exact bytes real peers
 * put on the wire (sizes and offsets are also checked at compile time in
 * protocol.h; this checks field order and endianness at run time).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <string.h>
#include <glib.h>
#include "vfio-user/error.h"
#include "vfio-user/protocol.h"

static void check_hex(const void *p, size_t len, const char *hex)
{
    g_autofree char *got = g_malloc(len * 2 + 1);

    for (size_t i = 0; i < len; i++) {
        g_snprintf(got + 2 * i, 3, "%02x", ((const guint8 *)p)[i]);
    }
    g_assert_cmpstr(got, ==, hex);
}

static void test_header(void)
{
    VFIOUserHdr h = {.id = 0x0102,
                     .cmd = VFIO_USER_DMA_MAP,
                     .size = 48,
                     .flags = VFIO_USER_F_TYPE_REPLY | VFIO_USER_F_ERROR,
                     .error = 22};

    check_hex(&h, sizeof(h), "02010200300000002100000016000000");
}

/* A DMA_MAP from the recorded access-mode session: read|write|file-io,
 * offset 0, address 0x10000, size 0x10000 (field values as recorded). */
static void test_dma_map(void)
{
    VFIOUserDMAMap m = {.argsz = sizeof(m),
                        .flags = VFIO_USER_DMA_MAP_F_READ |
                                 VFIO_USER_DMA_MAP_F_WRITE |
                                 VFIO_USER_DMA_MAP_F_MODE_FILE_IO,
                        .offset = 0x1000,
                        .addr = 0x10000,
                        .size = 0x20000};

    check_hex(
        &m, sizeof(m),
        "200000000b000000001000000000000000000100000000000000020000000000");
    g_assert_cmpuint(VFIO_USER_DMA_MAP_F_MODE_MMAP, ==, 1u << 2);
    g_assert_cmpuint(VFIO_USER_DMA_MAP_F_MODE_FILE_IO, ==, 1u << 3);
}

static void test_dma_rw(void)
{
    VFIOUserDMARW rw = {.addr = 0x400, .count = 0x400};

    /* As libvfio-user's sample server sends it: 8-byte count. */
    check_hex(&rw, sizeof(rw), "00040000000000000004000000000000");
}

static void test_region_rw(void)
{
    VFIOUserRegionRW rw = {.offset = 0x10, .region = 2, .count = 4};

    check_hex(&rw, sizeof(rw), "10000000000000000200000004000000");
}

static void test_irq_set(void)
{
    VFIOUserIrqSet s = {.argsz = 20,
                        .flags = VFIO_IRQ_SET_DATA_EVENTFD |
                                 VFIO_IRQ_SET_ACTION_TRIGGER,
                        .index = VFIO_PCI_MSI_IRQ_INDEX,
                        .start = 0,
                        .count = 1};

    check_hex(&s, sizeof(s), "1400000024000000010000000000000001000000");
}

static void test_sizes(void)
{
    /* Redundant with the _Static_asserts, but shows up in the test log. */
    g_assert_cmpuint(sizeof(VFIOUserHdr), ==, 16);
    g_assert_cmpuint(sizeof(VFIOUserDMAMap), ==, 32);
    g_assert_cmpuint(sizeof(VFIOUserDMAUnmap), ==, 24);
    g_assert_cmpuint(sizeof(VFIOUserRegionInfo), ==, 32);
    g_assert_cmpuint(sizeof(VFIOUserSubRegionIOFd), ==, 40);
    g_assert_cmpuint(sizeof(VFIOUserWriteMultiEntry), ==, 24);
    g_assert_cmpuint(offsetof(VFIOUserDMARW, data), ==, 16);
    g_assert_cmpuint(offsetof(VFIOUserRegionRW, data), ==, 16);
}

/* Errors carry errno codes in one domain whose name reads as written. */
static void test_error_domain(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GError) other = g_error_new_literal(G_FILE_ERROR, EBADF, "x");

    g_assert_cmpstr(g_quark_to_string(VFIO_USER_ERROR), ==,
                    "vfio-user-error-quark");
    g_assert_false(vfio_user_error_set(&err, ENOSPC, "full: %d", 3));
    g_assert_error(err, VFIO_USER_ERROR, ENOSPC);
    g_assert_cmpstr(err->message, ==, "full: 3");
    g_assert_cmpint(vfio_user_error_errno(err), ==, ENOSPC);
    g_assert_cmpint(vfio_user_error_errno(other), ==, EIO);
    g_assert_cmpint(vfio_user_error_errno(NULL), ==, EIO);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/protocol/header", test_header);
    g_test_add_func("/protocol/dma-map", test_dma_map);
    g_test_add_func("/protocol/dma-rw", test_dma_rw);
    g_test_add_func("/protocol/region-rw", test_region_rw);
    g_test_add_func("/protocol/irq-set", test_irq_set);
    g_test_add_func("/protocol/sizes", test_sizes);
    g_test_add_func("/protocol/error-domain", test_error_domain);
    return g_test_run();
}
