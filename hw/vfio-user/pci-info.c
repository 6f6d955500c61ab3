/*
 * vfio-user-pci in `info vfio-user`: connection, capabilities, DMA maps,
 * message and DMA counters, errors.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#undef G_LOG_DOMAIN /* the VMM library's default */
#define G_LOG_DOMAIN "vfio-user-pci"
#include <inttypes.h>
#include "pci-internal.h"

static void vupci_info_maps(VFIOUserPCIDevice *dev, GString *out)
{
    VFIOUserDMAMapInfo maps[16];
    size_t n =
        vfio_user_container_maps(dev->container, maps, G_N_ELEMENTS(maps));
    uint64_t msg_rd = 0, msg_wr = 0;

    g_string_append_printf(out, "  dma maps: %zu%s\n", n,
                           vfio_user_container_legacy_server(dev->container)
                               ? " (server predates access modes: fallback)"
                               : "");
    for (size_t i = 0; i < MIN(n, G_N_ELEMENTS(maps)); i++) {
        const VFIOUserDMAMapInfo *m = &maps[i];

        g_string_append_printf(out,
                               "    %s: iova 0x%" PRIx64 " size 0x%" PRIx64
                               " mode %s flags 0x%x fd %s%s",
                               m->name, m->iova, m->size,
                               vfio_user_dma_access_name(m->mode), m->flags,
                               m->sent_fd ? "sent" : "not sent",
                               m->via_proc_self_mem ? " (/proc/self/mem)" : "");
        if (m->mode == VFIO_USER_DMA_ACCESS_MESSAGE) {
            g_string_append_printf(
                out, ", served read %" PRIu64 " written %" PRIu64 " bytes",
                m->bytes_read, m->bytes_written);
            msg_rd += m->bytes_read;
            msg_wr += m->bytes_written;
        }
        g_string_append_c(out, '\n');
    }
    g_string_append_printf(
        out,
        "  dma bytes: message read %" PRIu64 " written %" PRIu64
        "; mmap and file-io: done by the server, not seen by the client\n",
        msg_rd, msg_wr);
}

void vupci_info(PCIDevice *d, GString *out)
{
    VFIOUserPCIDevice *dev = vupci(d);
    VFIOUserProxyStats ps = {0};
    VFIOUserDMAStats ds = {0};
    g_autofree char *caps =
        dev->proxy ? vfio_user_caps_describe(vfio_user_proxy_caps(dev->proxy))
                   : g_strdup("(not connected)");
    static const char *const modes[] = {"none", "INTx", "MSI", "MSI-X"};

    if (dev->proxy) {
        vfio_user_proxy_get_stats(dev->proxy, &ps);
        vfio_user_container_stats(dev->container, &ds);
    }
    g_string_append_printf(out, "%s: %s at 00:%02x.0, socket %s, state %s\n",
                           d->id, VFIO_USER_PCI_TYPE, d->devfn >> 3,
                           dev->opts.socket, vupci_state(dev));
    g_string_append_printf(out, "  caps: %s\n", caps);
    vfio_user_reconnect_info(&dev->rc, out);
    g_string_append_printf(
        out,
        "  dma-access %s, x-msg-timeout %u ms, x-poll-us %u, posted writes %s, interrupts %s (vectors: %u)\n",
        vfio_user_dma_access_name(dev->opts.dma_access),
        dev->opts.msg_timeout_ms, dev->opts.poll_us,
        dev->vdev.posted_writes ? "on" : "off", modes[dev->irq_mode],
        dev->nr_vectors);
    if (dev->container) {
        vupci_info_maps(dev, out);
    } else {
        g_string_append_printf(
            out,
            "  dma maps: none while disconnected (%u sections to map again)\n",
            vfio_user_dma_replay_count(dev->dma));
    }
    g_string_append_printf(
        out,
        "  messages: requests %" PRIu64 " posted %" PRIu64 " replies %" PRIu64
        " error-replies %" PRIu64 " posted-errors %" PRIu64
        " unknown-replies %" PRIu64 " timeouts %" PRIu64
        " late-replies %" PRIu64 " fast-fails %" PRIu64
        " server-requests %" PRIu64 " fences %" PRIu64 "\n",
        ps.requests, ps.posted, ps.replies, ps.error_replies, ps.posted_errors,
        ps.unknown_replies, ps.timeouts, ps.late_replies, ps.fast_fails,
        ps.server_requests,
        __atomic_load_n(&dev->vdev.fences, __ATOMIC_RELAXED));
    g_string_append_printf(
        out,
        "  write-multi %s: %" PRIu64 " messages carried %" PRIu64
        " posted writes\n",
        dev->vdev.write_multi ? "on" : "off",
        __atomic_load_n(&dev->vdev.multi_msgs, __ATOMIC_RELAXED),
        __atomic_load_n(&dev->vdev.multi_writes, __ATOMIC_RELAXED));
    g_string_append_printf(
        out,
        "  dma requests served: read %" PRIu64 " write %" PRIu64
        " rejected %" PRIu64 " (bus master off %" PRIu64 ")\n",
        ds.dma_reads, ds.dma_writes, ds.dma_rejected, ds.dma_no_master);
    g_mutex_lock(&dev->err_lock);
    g_string_append_printf(out, "  errors: %" PRIu64 "%s%s\n", dev->errors,
                           dev->last_error ? ", last: " : "",
                           dev->last_error ? dev->last_error : "");
    g_mutex_unlock(&dev->err_lock);
}
