/*
 * vfio-user wire format: commands, header flags and payload layouts.
 *
 * Every structure here is exactly what travels on the socket: packed,
 * little-endian (this project only builds on little-endian hosts), with a
 * compile-time check on every size and on the offsets that matter.  This
 * header holds layouts and constants only; no code.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef VFIO_USER_PROTOCOL_H
#define VFIO_USER_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>
#include <linux/vfio.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "vfio-user-client supports little-endian hosts only"
#endif

#define VFIO_USER_PACKED __attribute__((packed))
#define VFIO_USER_CHECK_SIZE(type, n)                                          \
    _Static_assert(sizeof(type) == (n), #type " must be " #n " bytes")
#define VFIO_USER_CHECK_OFF(type, field, n)                                    \
    _Static_assert(offsetof(type, field) == (n), #type "." #field " offset")

/* Protocol version this project speaks.  Any minor of major 0 is accepted. */
#define VFIO_USER_MAJOR_VER 0
#define VFIO_USER_MINOR_VER 1

/* Command numbers (header "command" field). */
enum vfio_user_command {
    VFIO_USER_VERSION = 1,
    VFIO_USER_DMA_MAP = 2,
    VFIO_USER_DMA_UNMAP = 3,
    VFIO_USER_DEVICE_GET_INFO = 4,
    VFIO_USER_DEVICE_GET_REGION_INFO = 5,
    VFIO_USER_DEVICE_GET_REGION_IO_FDS = 6,
    VFIO_USER_DEVICE_GET_IRQ_INFO = 7,
    VFIO_USER_DEVICE_SET_IRQS = 8,
    VFIO_USER_REGION_READ = 9,
    VFIO_USER_REGION_WRITE = 10,
    VFIO_USER_DMA_READ = 11,
    VFIO_USER_DMA_WRITE = 12,
    VFIO_USER_DEVICE_RESET = 13,
    VFIO_USER_DIRTY_PAGES = 14, /* deprecated, never sent */
    VFIO_USER_REGION_WRITE_MULTI = 15,
    VFIO_USER_DEVICE_FEATURE = 16,
    VFIO_USER_MIG_DATA_READ = 17,
    VFIO_USER_MIG_DATA_WRITE = 18,
    VFIO_USER_MAX_COMMAND = 19,
};

/* ---- Header: 16 bytes in front of every message ---- */

#define VFIO_USER_F_TYPE_MASK 0xfu /* bits 0-3: message type */
#define VFIO_USER_F_TYPE_REQUEST 0x0u
#define VFIO_USER_F_TYPE_REPLY 0x1u
#define VFIO_USER_F_NO_REPLY (1u << 4) /* request: sender wants no reply */
#define VFIO_USER_F_ERROR (1u << 5)    /* reply: "error" holds an errno */

typedef struct VFIO_USER_PACKED VFIOUserHdr {
    uint16_t id;    /* chosen by the requester, echoed in the reply */
    uint16_t cmd;   /* enum vfio_user_command */
    uint32_t size;  /* whole message, header included */
    uint32_t flags; /* VFIO_USER_F_* */
    uint32_t error; /* errno, valid in replies with VFIO_USER_F_ERROR */
} VFIOUserHdr;
VFIO_USER_CHECK_SIZE(VFIOUserHdr, 16);
VFIO_USER_CHECK_OFF(VFIOUserHdr, cmd, 2);
VFIO_USER_CHECK_OFF(VFIOUserHdr, size, 4);
VFIO_USER_CHECK_OFF(VFIOUserHdr, flags, 8);
VFIO_USER_CHECK_OFF(VFIOUserHdr, error, 12);

/* ---- VERSION (1): followed by a NUL-terminated JSON object ---- */

typedef struct VFIO_USER_PACKED VFIOUserVersion {
    uint16_t major;
    uint16_t minor;
    char data[]; /* {"capabilities":{...}} + NUL; optional */
} VFIOUserVersion;
VFIO_USER_CHECK_SIZE(VFIOUserVersion, 4);

/* Capability defaults when a peer leaves a key out (spec values). */
#define VFIO_USER_DEF_MAX_MSG_FDS 1
#define VFIO_USER_DEF_MAX_XFER (1024 * 1024)
#define VFIO_USER_DEF_PGSIZES 4096
#define VFIO_USER_DEF_MAX_DMA_MAPS 65535

/* ---- DMA_MAP (2): no reply payload ---- */

#define VFIO_USER_DMA_MAP_F_READ (1u << 0)
#define VFIO_USER_DMA_MAP_F_WRITE (1u << 1)
#define VFIO_USER_DMA_MAP_F_MODE_MMAP (1u << 2)    /* mmap() the sent fd */
#define VFIO_USER_DMA_MAP_F_MODE_FILE_IO (1u << 3) /* pread/pwrite the fd */
#define VFIO_USER_DMA_MAP_F_MODES                                              \
    (VFIO_USER_DMA_MAP_F_MODE_MMAP | VFIO_USER_DMA_MAP_F_MODE_FILE_IO)
#define VFIO_USER_DMA_MAP_F_ALL                                                \
    (VFIO_USER_DMA_MAP_F_READ | VFIO_USER_DMA_MAP_F_WRITE |                    \
     VFIO_USER_DMA_MAP_F_MODES)

typedef struct VFIO_USER_PACKED VFIOUserDMAMap {
    uint32_t argsz;  /* sizeof(VFIOUserDMAMap) */
    uint32_t flags;  /* VFIO_USER_DMA_MAP_F_* */
    uint64_t offset; /* offset of the region in the sent fd; 0 without fd */
    uint64_t addr;   /* DMA (guest physical) base address */
    uint64_t size;
} VFIOUserDMAMap;
VFIO_USER_CHECK_SIZE(VFIOUserDMAMap, 32);
VFIO_USER_CHECK_OFF(VFIOUserDMAMap, offset, 8);
VFIO_USER_CHECK_OFF(VFIOUserDMAMap, addr, 16);
VFIO_USER_CHECK_OFF(VFIOUserDMAMap, size, 24);

/* ---- DMA_UNMAP (3): the reply echoes the request ---- */

/*
 * The current specification says flags are unused (0).  Both bits come from
 * earlier versions and libvfio-user: extensions here.  Our client sends 0;
 * our server refuses the bitmap (ENOTSUP) and honours unmap-all.
 */
#define VFIO_USER_DMA_UNMAP_F_GET_DIRTY_BITMAP (1u << 0)
#define VFIO_USER_DMA_UNMAP_F_ALL (1u << 1)

typedef struct VFIO_USER_PACKED VFIOUserDMAUnmap {
    uint32_t argsz;
    uint32_t flags; /* VFIO_USER_DMA_UNMAP_F_* */
    uint64_t addr;
    uint64_t size;
} VFIOUserDMAUnmap;
VFIO_USER_CHECK_SIZE(VFIOUserDMAUnmap, 24);
VFIO_USER_CHECK_OFF(VFIOUserDMAUnmap, addr, 8);

/* Follows VFIOUserDMAUnmap when GET_DIRTY_BITMAP is set (libvfio-user). */
typedef struct VFIO_USER_PACKED VFIOUserBitmap {
    uint64_t pgsize;
    uint64_t size; /* bytes of bitmap data that follow */
} VFIOUserBitmap;
VFIO_USER_CHECK_SIZE(VFIOUserBitmap, 16);

/* ---- DEVICE_GET_INFO (4) ---- */

typedef struct VFIO_USER_PACKED VFIOUserDeviceInfo {
    uint32_t argsz;
    uint32_t flags; /* VFIO_DEVICE_FLAGS_RESET, VFIO_DEVICE_FLAGS_PCI */
    uint32_t num_regions;
    uint32_t num_irqs;
} VFIOUserDeviceInfo;
VFIO_USER_CHECK_SIZE(VFIOUserDeviceInfo, 16);

/* ---- DEVICE_GET_REGION_INFO (5): followed by a capability chain ---- */

typedef struct VFIO_USER_PACKED VFIOUserRegionInfo {
    uint32_t argsz; /* request: reply room; reply: size needed */
    uint32_t flags; /* VFIO_REGION_INFO_FLAG_{READ,WRITE,MMAP,CAPS} */
    uint32_t index;
    uint32_t cap_offset; /* from the start of this struct; 0 = none */
    uint64_t size;
    uint64_t offset; /* mmap offset in the region fd */
} VFIOUserRegionInfo;
VFIO_USER_CHECK_SIZE(VFIOUserRegionInfo, 32);
VFIO_USER_CHECK_OFF(VFIOUserRegionInfo, cap_offset, 12);
VFIO_USER_CHECK_OFF(VFIOUserRegionInfo, size, 16);
VFIO_USER_CHECK_OFF(VFIOUserRegionInfo, offset, 24);

typedef struct VFIO_USER_PACKED VFIOUserCapHdr {
    uint16_t id; /* VFIO_REGION_INFO_CAP_* */
    uint16_t version;
    uint32_t next; /* from the start of the region info; 0 = last */
} VFIOUserCapHdr;
VFIO_USER_CHECK_SIZE(VFIOUserCapHdr, 8);

typedef struct VFIO_USER_PACKED VFIOUserSparseArea {
    uint64_t offset; /* within the region (added to the region offset) */
    uint64_t size;
} VFIOUserSparseArea;
VFIO_USER_CHECK_SIZE(VFIOUserSparseArea, 16);

typedef struct VFIO_USER_PACKED VFIOUserCapSparseMmap {
    VFIOUserCapHdr hdr; /* id 1 (VFIO_REGION_INFO_CAP_SPARSE_MMAP), v1 */
    uint32_t nr_areas;
    uint32_t reserved;
    VFIOUserSparseArea areas[];
} VFIOUserCapSparseMmap;
VFIO_USER_CHECK_SIZE(VFIOUserCapSparseMmap, 16);

typedef struct VFIO_USER_PACKED VFIOUserCapType {
    VFIOUserCapHdr hdr; /* id 2 (VFIO_REGION_INFO_CAP_TYPE), v1 */
    uint32_t type;
    uint32_t subtype;
} VFIOUserCapType;
VFIO_USER_CHECK_SIZE(VFIOUserCapType, 16);

/* ---- DEVICE_GET_REGION_IO_FDS (6) ---- */

#define VFIO_USER_IO_FD_TYPE_IOEVENTFD 0
#define VFIO_USER_IO_FD_TYPE_IOREGIONFD 1
#define VFIO_USER_IOEVENTFD_F_DATAMATCH (1u << 0) /* KVM's flag value */
#define VFIO_USER_IOEVENTFD_F_PIO (1u << 1)       /* KVM's flag value */

typedef struct VFIO_USER_PACKED VFIOUserRegionIOFds {
    uint32_t argsz;
    uint32_t flags; /* 0 */
    uint32_t index;
    uint32_t count; /* sub-regions that follow in the reply */
} VFIOUserRegionIOFds;
VFIO_USER_CHECK_SIZE(VFIOUserRegionIOFds, 16);

typedef struct VFIO_USER_PACKED VFIOUserSubRegionIOFd {
    uint64_t offset;
    uint64_t size;
    uint32_t fd_index; /* into the reply's SCM_RIGHTS array */
    uint32_t type;     /* VFIO_USER_IO_FD_TYPE_* */
    uint32_t flags;
    uint32_t padding;
    uint64_t datamatch; /* ioeventfd; user_data for ioregionfd */
} VFIOUserSubRegionIOFd;
VFIO_USER_CHECK_SIZE(VFIOUserSubRegionIOFd, 40);
VFIO_USER_CHECK_OFF(VFIOUserSubRegionIOFd, fd_index, 16);
VFIO_USER_CHECK_OFF(VFIOUserSubRegionIOFd, datamatch, 32);

/* ---- DEVICE_GET_IRQ_INFO (7) ---- */

typedef struct VFIO_USER_PACKED VFIOUserIrqInfo {
    uint32_t argsz;
    uint32_t flags; /* VFIO_IRQ_INFO_{EVENTFD,MASKABLE,AUTOMASKED,NORESIZE} */
    uint32_t index;
    uint32_t count;
} VFIOUserIrqInfo;
VFIO_USER_CHECK_SIZE(VFIOUserIrqInfo, 16);

/* ---- DEVICE_SET_IRQS (8): no reply payload ---- */

typedef struct VFIO_USER_PACKED VFIOUserIrqSet {
    uint32_t argsz; /* this struct plus data */
    uint32_t flags; /* one VFIO_IRQ_SET_DATA_* | one VFIO_IRQ_SET_ACTION_* */
    uint32_t index;
    uint32_t start;
    uint32_t count;
    uint8_t data[]; /* bool array for DATA_BOOL; eventfds go in SCM_RIGHTS */
} VFIOUserIrqSet;
VFIO_USER_CHECK_SIZE(VFIOUserIrqSet, 20);
VFIO_USER_CHECK_OFF(VFIOUserIrqSet, count, 16);

/* ---- REGION_READ (9) / REGION_WRITE (10) ---- */

typedef struct VFIO_USER_PACKED VFIOUserRegionRW {
    uint64_t offset;
    uint32_t region;
    uint32_t count;
    uint8_t data[]; /* WRITE request and READ reply */
} VFIOUserRegionRW;
VFIO_USER_CHECK_SIZE(VFIOUserRegionRW, 16);
VFIO_USER_CHECK_OFF(VFIOUserRegionRW, region, 8);
VFIO_USER_CHECK_OFF(VFIOUserRegionRW, count, 12);

/* ---- DMA_READ (11) / DMA_WRITE (12), server to client ----
 * The count is 8 bytes, as in the specification and libvfio-user (QEMU's
 * client used 4 and does not interoperate).  A DMA_WRITE reply is this
 * struct without data; we accept a 12-byte reply too (the spec's table). */

typedef struct VFIO_USER_PACKED VFIOUserDMARW {
    uint64_t addr;
    uint64_t count;
    uint8_t data[]; /* DMA_WRITE request and DMA_READ reply */
} VFIOUserDMARW;
VFIO_USER_CHECK_SIZE(VFIOUserDMARW, 16);
VFIO_USER_CHECK_OFF(VFIOUserDMARW, count, 8);

/* ---- REGION_WRITE_MULTI (15), with the write_multiple capability ---- */

#define VFIO_USER_MULTI_DATA 8  /* bytes of data per write, at most */
#define VFIO_USER_MULTI_MAX 200 /* writes per message (our limit) */

typedef struct VFIO_USER_PACKED VFIOUserWriteMultiEntry {
    uint64_t offset;
    uint32_t region;
    uint32_t count; /* 1..8 */
    uint8_t data[VFIO_USER_MULTI_DATA];
} VFIOUserWriteMultiEntry;
VFIO_USER_CHECK_SIZE(VFIOUserWriteMultiEntry, 24);

typedef struct VFIO_USER_PACKED VFIOUserWriteMulti {
    uint64_t wr_cnt; /* request: entries that follow; reply: completed */
    VFIOUserWriteMultiEntry wrs[];
} VFIOUserWriteMulti;
VFIO_USER_CHECK_SIZE(VFIOUserWriteMulti, 8);

/* ---- DEVICE_FEATURE (16) ---- */

typedef struct VFIO_USER_PACKED VFIOUserDeviceFeature {
    uint32_t argsz;
    uint32_t flags; /* feature index in bits 0-15, GET/SET/PROBE above */
    uint8_t data[];
} VFIOUserDeviceFeature;
VFIO_USER_CHECK_SIZE(VFIOUserDeviceFeature, 8);

/* ---- MIG_DATA_READ (17) / MIG_DATA_WRITE (18) ---- */

typedef struct VFIO_USER_PACKED VFIOUserMigData {
    uint32_t argsz;
    uint32_t size;
    uint8_t data[];
} VFIOUserMigData;
VFIO_USER_CHECK_SIZE(VFIOUserMigData, 8);

#endif /* VFIO_USER_PROTOCOL_H */
