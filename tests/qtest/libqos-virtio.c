/*
 * libqos-virtio: guest-side virtio 1.x PCI driver over qtest (see
 * libqos-virtio.h).
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include <linux/pci_regs.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>
#include "libqos-virtio.h"
#include "libqtest-child.h"
#include "system/machine.h"

static uint64_t qvirtio_cap_addr(QVirtioDev *d, uint8_t pos)
{
    uint8_t bar = qpci_config_readb(d->qts, d->slot, pos + VIRTIO_PCI_CAP_BAR);
    uint32_t off =
        qpci_config_readl(d->qts, d->slot, pos + VIRTIO_PCI_CAP_OFFSET);

    return qpci_bar_addr(d->qts, d->slot, bar, NULL) + off;
}

void qvirtio_pci_init(QVirtioDev *d, QTestState *qts, int slot,
                      uint64_t ram_size)
{
    uint8_t pos;
    unsigned found = 0;

    memset(d, 0, sizeof(*d));
    d->qts = qts;
    d->slot = slot;
    d->alloc_next = QVIRTIO_ALLOC_BASE;
    d->alloc_end = ram_size;
    pos = qpci_config_readb(qts, slot, PCI_CAPABILITY_LIST) & ~3;
    for (int guard = 0; pos >= 0x40 && guard < 48; guard++) {
        uint8_t id = qpci_config_readb(qts, slot, pos);

        if (id == PCI_CAP_ID_VNDR) {
            uint8_t type =
                qpci_config_readb(qts, slot, pos + VIRTIO_PCI_CAP_CFG_TYPE);
            uint64_t addr = qvirtio_cap_addr(d, pos);

            switch (type) {
            case VIRTIO_PCI_CAP_COMMON_CFG:
                d->common = addr;
                break;
            case VIRTIO_PCI_CAP_ISR_CFG:
                d->isr = addr;
                break;
            case VIRTIO_PCI_CAP_DEVICE_CFG:
                d->devcfg = addr;
                break;
            case VIRTIO_PCI_CAP_NOTIFY_CFG:
                d->notify_base = addr;
                d->notify_mult = qpci_config_readl(
                    qts, slot, pos + sizeof(struct virtio_pci_cap));
                break;
            }
            found |= 1u << type;
        } else if (id == PCI_CAP_ID_MSIX) {
            uint32_t t = qpci_config_readl(qts, slot, pos + PCI_MSIX_TABLE);

            d->msix_table =
                qpci_bar_addr(qts, slot, t & PCI_MSIX_TABLE_BIR, NULL) +
                (t & PCI_MSIX_TABLE_OFFSET);
        }
        pos = qpci_config_readb(qts, slot, pos + 1) & ~3;
    }
    g_assert_cmphex(found & 0x1e, ==, 0x1e); /* common, notify, isr, dev */
    g_assert_cmphex(d->msix_table, !=, 0);
}

uint8_t qvirtio_get_status(QVirtioDev *d)
{
    return qtest_readb(d->qts, d->common + VIRTIO_PCI_COMMON_STATUS);
}

void qvirtio_set_status(QVirtioDev *d, uint8_t status)
{
    qtest_writeb(d->qts, d->common + VIRTIO_PCI_COMMON_STATUS, status);
}

void qvirtio_reset(QVirtioDev *d)
{
    gint64 deadline = qtest_deadline(qtest_timeout_ms());

    qvirtio_set_status(d, 0);
    /* virtio: wait for a read of 0 before initialising again */
    while (qvirtio_get_status(d) != 0) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
    }
    for (unsigned i = 0; i < QVIRTIO_MAX_QUEUES; i++) {
        d->vq[i] = (QVirtQueue){0};
    }
}

uint64_t qvirtio_negotiate(QVirtioDev *d, uint64_t wanted)
{
    QTestState *qts = d->qts;
    uint64_t offered;

    qvirtio_reset(d);
    qvirtio_set_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE);
    qvirtio_set_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
    qtest_writel(qts, d->common + VIRTIO_PCI_COMMON_DFSELECT, 0);
    offered = qtest_readl(qts, d->common + VIRTIO_PCI_COMMON_DF);
    qtest_writel(qts, d->common + VIRTIO_PCI_COMMON_DFSELECT, 1);
    offered |= (uint64_t)qtest_readl(qts, d->common + VIRTIO_PCI_COMMON_DF)
               << 32;
    d->features = offered & wanted;
    qtest_writel(qts, d->common + VIRTIO_PCI_COMMON_GFSELECT, 0);
    qtest_writel(qts, d->common + VIRTIO_PCI_COMMON_GF, (uint32_t)d->features);
    qtest_writel(qts, d->common + VIRTIO_PCI_COMMON_GFSELECT, 1);
    qtest_writel(qts, d->common + VIRTIO_PCI_COMMON_GF,
                 (uint32_t)(d->features >> 32));
    qvirtio_set_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
                              VIRTIO_CONFIG_S_FEATURES_OK);
    return offered;
}

void qvirtio_msix_enable(QVirtioDev *d, unsigned n)
{
    uint8_t cap = qpci_find_capability(d->qts, d->slot, PCI_CAP_ID_MSIX);
    uint16_t ctrl;

    g_assert_cmpuint(cap, !=, 0);
    for (unsigned v = 0; v < n; v++) {
        uint64_t e = d->msix_table + (uint64_t)v * PCI_MSIX_ENTRY_SIZE;

        qtest_writel(d->qts, e + PCI_MSIX_ENTRY_LOWER_ADDR,
                     (uint32_t)VMM_MSI_BASE);
        qtest_writel(d->qts, e + PCI_MSIX_ENTRY_UPPER_ADDR, 0);
        qtest_writel(d->qts, e + PCI_MSIX_ENTRY_DATA,
                     QVIRTIO_MSI_DATA_BASE + v);
        qtest_writel(d->qts, e + PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
    }
    ctrl = qpci_config_readw(d->qts, d->slot, cap + PCI_MSIX_FLAGS);
    qpci_config_writew(d->qts, d->slot, cap + PCI_MSIX_FLAGS,
                       (ctrl | PCI_MSIX_FLAGS_ENABLE) &
                           ~PCI_MSIX_FLAGS_MASKALL);
}

void qvirtio_set_config_vector(QVirtioDev *d, uint16_t vector)
{
    qtest_writew(d->qts, d->common + VIRTIO_PCI_COMMON_MSIX, vector);
    g_assert_cmphex(qtest_readw(d->qts, d->common + VIRTIO_PCI_COMMON_MSIX), ==,
                    vector);
}

uint64_t qvirtio_alloc(QVirtioDev *d, uint64_t len, uint64_t align)
{
    uint64_t a = (d->alloc_next + align - 1) & ~(align - 1);

    g_assert_cmphex(a + len, <=, d->alloc_end);
    d->alloc_next = a + len;
    return a;
}

QVirtQueue *qvirtqueue_setup(QVirtioDev *d, uint16_t index, uint16_t num,
                             uint16_t vector)
{
    QTestState *qts = d->qts;
    QVirtQueue *q = &d->vq[index];
    uint64_t c = d->common;
    uint16_t noff;

    g_assert_cmpuint(index, <, QVIRTIO_MAX_QUEUES);
    *q = (QVirtQueue){.index = index, .num = num, .vector = vector};
    q->desc = qvirtio_alloc(d, 16ull * num, 16);
    q->avail = qvirtio_alloc(d, 6 + 2ull * num, 2);
    q->used = qvirtio_alloc(d, 6 + 8ull * num, 4);
    qtest_memset(qts, q->desc, 0, 16ull * num);
    qtest_memset(qts, q->avail, 0, 6 + 2ull * num);
    qtest_memset(qts, q->used, 0, 6 + 8ull * num);
    qtest_writew(qts, c + VIRTIO_PCI_COMMON_Q_SELECT, index);
    g_assert_cmpuint(qtest_readw(qts, c + VIRTIO_PCI_COMMON_Q_SIZE), >=, num);
    qtest_writew(qts, c + VIRTIO_PCI_COMMON_Q_SIZE, num);
    qtest_writew(qts, c + VIRTIO_PCI_COMMON_Q_MSIX, vector);
    g_assert_cmphex(qtest_readw(qts, c + VIRTIO_PCI_COMMON_Q_MSIX), ==, vector);
    qtest_writel(qts, c + VIRTIO_PCI_COMMON_Q_DESCLO, (uint32_t)q->desc);
    qtest_writel(qts, c + VIRTIO_PCI_COMMON_Q_DESCHI, q->desc >> 32);
    qtest_writel(qts, c + VIRTIO_PCI_COMMON_Q_AVAILLO, (uint32_t)q->avail);
    qtest_writel(qts, c + VIRTIO_PCI_COMMON_Q_AVAILHI, q->avail >> 32);
    qtest_writel(qts, c + VIRTIO_PCI_COMMON_Q_USEDLO, (uint32_t)q->used);
    qtest_writel(qts, c + VIRTIO_PCI_COMMON_Q_USEDHI, q->used >> 32);
    noff = qtest_readw(qts, c + VIRTIO_PCI_COMMON_Q_NOFF);
    q->notify = d->notify_base + (uint64_t)noff * d->notify_mult;
    qtest_writew(qts, c + VIRTIO_PCI_COMMON_Q_ENABLE, 1);
    return q;
}

void qvirtio_driver_ok(QVirtioDev *d)
{
    qvirtio_set_status(d, qvirtio_get_status(d) | VIRTIO_CONFIG_S_DRIVER_OK);
}

void qvirtqueue_write_desc(QVirtioDev *d, QVirtQueue *q, uint16_t i,
                           uint64_t addr, uint32_t len, uint16_t flags,
                           uint16_t next)
{
    struct vring_desc desc = {
        .addr = GUINT64_TO_LE(addr),
        .len = GUINT32_TO_LE(len),
        .flags = GUINT16_TO_LE(flags),
        .next = GUINT16_TO_LE(next),
    };

    qtest_memwrite(d->qts, q->desc + 16ull * (i % q->num), &desc, sizeof(desc));
}

void qvirtqueue_set_avail_idx(QVirtioDev *d, QVirtQueue *q, uint16_t idx)
{
    qtest_writew(d->qts, q->avail + 2, idx);
}

void qvirtqueue_publish(QVirtioDev *d, QVirtQueue *q, uint16_t head)
{
    qtest_writew(d->qts, q->avail + 4 + 2ull * (q->avail_idx % q->num), head);
    q->avail_idx++;
    qvirtqueue_set_avail_idx(d, q, q->avail_idx);
}

uint16_t qvirtqueue_add(QVirtioDev *d, QVirtQueue *q, uint16_t first,
                        const QVirtioSeg *segs, unsigned n)
{
    g_autofree struct vring_desc *descs = g_new0(struct vring_desc, n);
    uint16_t head = first % q->num;

    g_assert_cmpuint(n, >=, 1);
    g_assert_cmpuint(n, <=, q->num);
    for (unsigned i = 0; i < n; i++) {
        uint16_t flags = segs[i].write ? VRING_DESC_F_WRITE : 0;

        if (i + 1 < n) {
            flags |= VRING_DESC_F_NEXT;
        }
        descs[i].addr = GUINT64_TO_LE(segs[i].addr);
        descs[i].len = GUINT32_TO_LE(segs[i].len);
        descs[i].flags = GUINT16_TO_LE(flags);
        descs[i].next = GUINT16_TO_LE((uint16_t)((first + i + 1) % q->num));
    }
    if (head + n <= q->num) {
        qtest_memwrite(d->qts, q->desc + 16ull * head, descs, 16ull * n);
    } else {
        for (unsigned i = 0; i < n; i++) {
            qtest_memwrite(d->qts, q->desc + 16ull * ((first + i) % q->num),
                           &descs[i], 16);
        }
    }
    qvirtqueue_publish(d, q, head);
    return head;
}

void qvirtqueue_kick(QVirtioDev *d, QVirtQueue *q)
{
    qtest_writew(d->qts, q->notify, q->index);
}

bool qvirtqueue_get_used(QVirtioDev *d, QVirtQueue *q, uint32_t *id,
                         uint32_t *len)
{
    uint16_t idx = qtest_readw(d->qts, q->used + 2);
    uint32_t elem[2];

    if (idx == q->last_used) {
        return false;
    }
    qtest_memread(d->qts, q->used + 4 + 8ull * (q->last_used % q->num), elem,
                  sizeof(elem));
    q->last_used++;
    *id = GUINT32_FROM_LE(elem[0]);
    *len = GUINT32_FROM_LE(elem[1]);
    return true;
}

/* Wait for one MSI until @deadline and count it; false on timeout. */
static bool qvirtio_wait_msi(QVirtioDev *d, gint64 deadline)
{
    gint64 left = (deadline - g_get_monotonic_time()) / 1000;
    uint64_t addr;
    uint32_t data;

    if (left <= 0 || !qtest_wait_msi(d->qts, &addr, &data, (int)left)) {
        return false;
    }
    g_assert_cmphex(addr, ==, VMM_MSI_BASE);
    data -= QVIRTIO_MSI_DATA_BASE;
    g_assert_cmpuint(data, <, G_N_ELEMENTS(d->msi_seen));
    d->msi_seen[data]++;
    return true;
}

bool qvirtqueue_wait_used(QVirtioDev *d, QVirtQueue *q, uint32_t *id,
                          uint32_t *len, int timeout_ms)
{
    gint64 deadline = qtest_deadline(timeout_ms);

    /* An MSI that lands after the check is queued by the VMM: no loss. */
    while (!qvirtqueue_get_used(d, q, id, len)) {
        if (!qvirtio_wait_msi(d, deadline)) {
            return qvirtqueue_get_used(d, q, id, len);
        }
    }
    return true;
}

bool qvirtio_wait_vector(QVirtioDev *d, unsigned vector, unsigned seen,
                         int timeout_ms)
{
    gint64 deadline = qtest_deadline(timeout_ms);

    while (d->msi_seen[vector] <= seen) {
        if (!qvirtio_wait_msi(d, deadline)) {
            return false;
        }
    }
    return true;
}

uint8_t qvirtio_read_isr(QVirtioDev *d)
{
    return qtest_readb(d->qts, d->isr);
}
