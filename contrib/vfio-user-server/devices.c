/*
 * The table of sample devices that vfio-user-server can serve.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include "devices.h"

static const SampleDeviceType *const sample_devices[] = {
    &sample_edu_type,
    &sample_ram_type,
    &sample_pio_type,
    &sample_virtio_net_type,
};

const SampleDeviceType *sample_device_find(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(sample_devices); i++) {
        if (strcmp(sample_devices[i]->name, name) == 0) {
            return sample_devices[i];
        }
    }
    return NULL;
}

char *sample_device_names(void)
{
    GString *s = g_string_new(NULL);

    for (size_t i = 0; i < G_N_ELEMENTS(sample_devices); i++) {
        g_string_append_printf(s, "%s%s", i ? ", " : "",
                               sample_devices[i]->name);
    }
    return g_string_free(s, false);
}

char *sample_device_help(void)
{
    GString *s = g_string_new("Devices:\n");

    for (size_t i = 0; i < G_N_ELEMENTS(sample_devices); i++) {
        g_string_append_printf(s, "  %-12s%s\n", sample_devices[i]->name,
                               sample_devices[i]->description);
    }
    return g_string_free(s, false);
}
