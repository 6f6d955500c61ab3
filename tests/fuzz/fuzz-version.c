/*
 * libFuzzer target: a VERSION payload from a peer (major, minor, JSON).
 * Whatever the bytes, parsing returns true or false with an error; on
 * success the values lie within what the parser promises.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdint.h>
#include <stdlib.h>
#include "vfio-user/caps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    VFIOUserCaps caps, ours, merged;
    GError *err = NULL;

    if (vfio_user_caps_parse_version(data, size, &caps, &err)) {
        if (caps.max_data_xfer_size == 0 || caps.max_dma_maps == 0 ||
            !(caps.pgsizes & 4096) || caps.major != 0) {
            abort();
        }
        vfio_user_caps_init_ours(&ours);
        if (vfio_user_caps_merge(&ours, &caps, &merged, NULL)) {
            if (merged.max_data_xfer_size > ours.max_data_xfer_size ||
                merged.max_msg_fds > ours.max_msg_fds) {
                abort();
            }
        }
        g_free(vfio_user_caps_describe(&caps));
    } else if (!err) {
        abort();
    }
    g_clear_error(&err);
    return 0;
}
