/*
 * libvfio-user-server interrupts: declared vectors, DEVICE_GET_IRQ_INFO,
 * DEVICE_SET_IRQS and vus_irq_trigger().
 *
 * SET_IRQS accepts one data type (NONE, BOOL, EVENTFD) and one action
 * (MASK, UNMASK, TRIGGER), with start + count inside the declared vectors.
 * TRIGGER + EVENTFD assigns eventfds to [start, start + count) (the message
 * must carry exactly count fds, or none to de-assign the range); the old
 * ones are closed.  TRIGGER + NONE/BOOL fires vectors; MASK/UNMASK + NONE/
 * BOOL masks vectors (a trigger on a masked vector is kept pending and
 * delivered on unmask).  count 0 (and start 0) is only valid with
 * DATA_NONE, for any action as the specification says, and disables the
 * whole index: every eventfd is de-assigned, masks and pending triggers are
 * cleared.  MASK/UNMASK with eventfds (an event when the device masks on
 * its own) is ENOTSUP: our devices never mask by themselves, so there is
 * nothing to report.  An fd that is not an eventfd, and every other
 * malformed request, is EINVAL.
 *
 * INTx is reported maskable but not automasked: a client does not have
 * to unmask after every interrupt.  A device that models INTx as a level
 * uses vus_irq_set_level(): the eventfd is signalled when the line goes
 * up, and again on every UNMASK (also an unmask of a vector that was not
 * masked) while the line is still up.  That is the client's end of
 * interrupt: it lowers the guest's line, unmasks, and a device that still
 * asserts INTx raises it again, as VFIO does for a level-triggered INTx.
 * PCI_STATUS_INTERRUPT in config space follows the line, and with INTx
 * Disable set in the command register nothing is signalled (a trigger or a
 * high line is signalled once the guest clears the bit).
 *
 * All state is guarded by VusServer.lock.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include "internal.h"
#include "trace-events.h"

#define VUS_MAX_IRQ_VECTORS 2048

static void irq_close_range(VusIrq *irq, uint32_t start, uint32_t count)
{
    for (uint32_t i = start; i < start + count; i++) {
        if (irq->efds[i] >= 0) {
            close(irq->efds[i]);
            irq->efds[i] = -1;
        }
    }
}

void vus_irqs_disconnect(VusServer *srv)
{
    for (int i = 0; i < VFIO_PCI_NUM_IRQS; i++) {
        VusIrq *irq = &srv->irqs[i];

        irq_close_range(irq, 0, irq->count);
        for (uint32_t v = 0; v < irq->count; v++) {
            irq->masked[v] = false;
            irq->pending[v] = false;
        }
    }
}

void vus_irqs_cleanup(VusServer *srv)
{
    for (int i = 0; i < VFIO_PCI_NUM_IRQS; i++) {
        VusIrq *irq = &srv->irqs[i];

        irq_close_range(irq, 0, irq->count);
        g_free(irq->efds);
        g_free(irq->masked);
        g_free(irq->pending);
        memset(irq, 0, sizeof(*irq));
    }
}

bool vus_server_setup_irq(VusServer *srv, uint32_t index, uint32_t count,
                          GError **errp)
{
    VusIrq *irq;
    uint32_t max = (index == VFIO_PCI_MSI_IRQ_INDEX)    ? 32
                   : (index == VFIO_PCI_MSIX_IRQ_INDEX) ? VUS_MAX_IRQ_VECTORS
                                                        : 1;

    if (index >= VFIO_PCI_NUM_IRQS) {
        return vfio_user_error_set(errp, EINVAL, "irq index %u out of range",
                                   index);
    }
    if (count > max) {
        return vfio_user_error_set(errp, EINVAL,
                                   "irq index %u: %u vectors, at most %u",
                                   index, count, max);
    }
    g_rec_mutex_lock(&srv->lock);
    irq = &srv->irqs[index];
    irq_close_range(irq, 0, irq->count);
    irq->count = count;
    irq->level = false;
    irq->efds = g_renew(int, irq->efds, count);
    irq->masked = g_renew(bool, irq->masked, count);
    irq->pending = g_renew(bool, irq->pending, count);
    for (uint32_t v = 0; v < count; v++) {
        irq->efds[v] = -1;
        irq->masked[v] = false;
        irq->pending[v] = false;
    }
    g_rec_mutex_unlock(&srv->lock);
    return true;
}

int vus_handle_irq_info(VusServer *srv, VfioUserMsg *msg, VusReply *r)
{
    VFIOUserIrqInfo info;

    if (msg->len < sizeof(info) || msg->nfds) {
        return EINVAL;
    }
    memcpy(&info, msg->payload, sizeof(info));
    if (info.argsz < sizeof(info) || info.index >= VFIO_PCI_NUM_IRQS) {
        return EINVAL;
    }
    info.argsz = sizeof(info);
    info.count = srv->irqs[info.index].count;
    info.flags = VFIO_IRQ_INFO_EVENTFD;
    if (info.index == VFIO_PCI_INTX_IRQ_INDEX) {
        info.flags |= VFIO_IRQ_INFO_MASKABLE;
    } else if (info.index == VFIO_PCI_MSI_IRQ_INDEX ||
               info.index == VFIO_PCI_MSIX_IRQ_INDEX) {
        info.flags |= VFIO_IRQ_INFO_NORESIZE;
    }
    r->payload = g_malloc(sizeof(info));
    memcpy(r->payload, &info, sizeof(info));
    r->len = sizeof(info);
    return 0;
}

/* INTx held back by the command register's INTx Disable? */
static bool irq_gated(VusServer *srv, const VusIrq *irq)
{
    return irq == &srv->irqs[VFIO_PCI_INTX_IRQ_INDEX] && srv->pci &&
           vus_pci_config_intx_disabled(srv->pci);
}

static bool irq_signal(VusServer *srv, VusIrq *irq, uint32_t v)
{
    uint64_t one = 1;

    if (irq->masked[v] || irq_gated(srv, irq)) {
        irq->pending[v] = true;
        return false;
    }
    if (irq->efds[v] < 0 || write(irq->efds[v], &one, sizeof(one)) < 0) {
        irq->undelivered++;
        return false;
    }
    return true;
}

static void irq_set_mask(VusServer *srv, VusIrq *irq, uint32_t v, bool mask)
{
    irq->masked[v] = mask;
    if (!mask && (irq->pending[v] || irq->level)) {
        irq->pending[v] = false;
        irq_signal(srv, irq, v);
    }
}

void vus_irq_intx_enabled(VusServer *srv)
{
    VusIrq *irq = &srv->irqs[VFIO_PCI_INTX_IRQ_INDEX];

    if (irq->count && (irq->pending[0] || irq->level) && !irq->masked[0]) {
        irq->pending[0] = false;
        irq_signal(srv, irq, 0);
    }
}

/*
 * Only real eventfds are kept: a pipe or socket in their place would block
 * the server (or another thread) in write() once full.
 */
static bool is_eventfd(int fd)
{
    g_autofree char *link = g_strdup_printf("/proc/self/fd/%d", fd);
    char target[64];
    ssize_t n = readlink(link, target, sizeof(target) - 1);

    if (n < 0) {
        return false;
    }
    target[n] = 0;
    return !strcmp(target, "anon_inode:[eventfd]");
}

/* Validate the header of a SET_IRQS request; 0 or an errno. */
static int set_irqs_check(VusServer *srv, const VFIOUserIrqSet *req,
                          const VfioUserMsg *msg)
{
    uint32_t data = req->flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
    uint32_t action = req->flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
    const VusIrq *irq;

    if (req->argsz < sizeof(*req) || req->argsz > msg->len ||
        (req->flags &
         ~(VFIO_IRQ_SET_DATA_TYPE_MASK | VFIO_IRQ_SET_ACTION_TYPE_MASK)) ||
        __builtin_popcount(data) != 1 || __builtin_popcount(action) != 1 ||
        req->index >= VFIO_PCI_NUM_IRQS) {
        return EINVAL;
    }
    irq = &srv->irqs[req->index];
    if (req->count == 0) {
        return (data == VFIO_IRQ_SET_DATA_NONE && req->start == 0 && !msg->nfds)
                   ? 0
                   : EINVAL;
    }
    if (req->start >= irq->count || req->count > irq->count - req->start) {
        return EINVAL;
    }
    switch (data) {
    case VFIO_IRQ_SET_DATA_NONE:
        return msg->nfds ? EINVAL : 0;
    case VFIO_IRQ_SET_DATA_BOOL:
        return (msg->nfds || req->argsz - sizeof(*req) < req->count) ? EINVAL
                                                                     : 0;
    default:
        if (msg->nfds != 0 && msg->nfds != req->count) {
            return EINVAL;
        }
        for (size_t i = 0; i < msg->nfds; i++) {
            if (!is_eventfd(msg->fds[i])) {
                return EINVAL;
            }
        }
        return action == VFIO_IRQ_SET_ACTION_TRIGGER ? 0 : ENOTSUP;
    }
}

int vus_handle_set_irqs(VusServer *srv, VfioUserMsg *msg, VusReply *r)
{
    VFIOUserIrqSet req;
    const uint8_t *bools;
    VusIrq *irq;
    int ret;

    (void)r;
    if (msg->len < sizeof(req)) {
        return EINVAL;
    }
    memcpy(&req, msg->payload, sizeof(req));
    ret = set_irqs_check(srv, &req, msg);
    if (ret) {
        return ret;
    }
    irq = &srv->irqs[req.index];
    bools = msg->payload + sizeof(req);
    if (req.count == 0) {
        irq_close_range(irq, 0, irq->count);
        for (uint32_t v = 0; v < irq->count; v++) {
            irq->masked[v] = irq->pending[v] = false;
        }
        trace_server_irq_disabled(req.index);
        return 0;
    }
    for (uint32_t i = 0; i < req.count; i++) {
        uint32_t v = req.start + i;
        bool on = !(req.flags & VFIO_IRQ_SET_DATA_BOOL) || bools[i];

        if (req.flags & VFIO_IRQ_SET_DATA_EVENTFD) {
            irq_close_range(irq, v, 1);
            if (msg->nfds) {
                irq->efds[v] = msg->fds[i];
                msg->fds[i] = -1; /* kept */
                /* A full counter must not block a trigger: undelivered. */
                fcntl(irq->efds[v], F_SETFL, O_NONBLOCK);
            }
        } else if (!on) {
            continue;
        } else if (req.flags & VFIO_IRQ_SET_ACTION_TRIGGER) {
            irq_signal(srv, irq, v);
        } else {
            irq_set_mask(srv, irq, v, req.flags & VFIO_IRQ_SET_ACTION_MASK);
        }
    }
    trace_server_irq_set(req.index, req.start, req.count, req.flags, msg->nfds);
    return 0;
}

bool vus_irq_trigger(VusServer *srv, uint32_t index, uint32_t vector)
{
    bool ok = false;

    g_rec_mutex_lock(&srv->lock);
    if (index < VFIO_PCI_NUM_IRQS && vector < srv->irqs[index].count) {
        ok = irq_signal(srv, &srv->irqs[index], vector);
    }
    g_rec_mutex_unlock(&srv->lock);
    return ok;
}

bool vus_irq_set_level(VusServer *srv, bool asserted)
{
    VusIrq *irq = &srv->irqs[VFIO_PCI_INTX_IRQ_INDEX];
    bool ok = false;

    g_rec_mutex_lock(&srv->lock);
    if (irq->count) {
        bool rise = asserted && !irq->level;

        irq->level = asserted;
        if (srv->pci) {
            vus_pci_config_set_intx_status(srv->pci, asserted);
        }
        if (!asserted) {
            irq->pending[0] = false; /* nothing left to deliver */
        }
        ok = rise ? irq_signal(srv, irq, 0) : true;
    }
    g_rec_mutex_unlock(&srv->lock);
    return ok;
}

bool vus_irq_level(VusServer *srv)
{
    bool level;

    g_rec_mutex_lock(&srv->lock);
    level = srv->irqs[VFIO_PCI_INTX_IRQ_INDEX].level;
    g_rec_mutex_unlock(&srv->lock);
    return level;
}

bool vus_irq_enabled(VusServer *srv, uint32_t index, uint32_t vector)
{
    bool on = false;

    g_rec_mutex_lock(&srv->lock);
    if (index < VFIO_PCI_NUM_IRQS && vector < srv->irqs[index].count) {
        on = srv->irqs[index].efds[vector] >= 0;
    }
    g_rec_mutex_unlock(&srv->lock);
    return on;
}

uint64_t vus_irq_undelivered(VusServer *srv, uint32_t index)
{
    uint64_t n = 0;

    g_rec_mutex_lock(&srv->lock);
    if (index < VFIO_PCI_NUM_IRQS) {
        n = srv->irqs[index].undelivered;
    }
    g_rec_mutex_unlock(&srv->lock);
    return n;
}
