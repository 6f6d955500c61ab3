/*
 * vfu-bench: shared declarations of the benchmark program.
 *
 * The program measures the limits of the machine (memcpy, AF_UNIX round
 * trips and streaming, pread/pwrite) and, side by side, the vfio-user
 * paths built on them (DMA in each access mode, region accesses, memory
 * per connection, many connections).  Results are collected in one table
 * (bench-report.c) and printed as text or JSON with their ratio to the
 * limit they are compared with.
 *
 * Everything runs on the main thread of the parent process; servers run in
 * forked child processes (bench-server.c), one per connection.  Nothing
 * here is shared between threads except the allocation counter.
 *
 * Copyright (c) 2026 vfio-user-client developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef BENCH_BENCH_H
#define BENCH_BENCH_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <glib.h>
#include "hw/vfio-user/container.h"
#include "hw/vfio-user/device.h"

#define KiB 1024ull
#define MiB (1024ull * 1024)

/* ---- configuration (bench-util.c) ---- */

typedef struct BenchConfig {
    bool quick;         /* short runs for CI smoke tests */
    double batch_ns;    /* target length of one measured batch */
    int reps;           /* measured batches per figure (median taken) */
    uint64_t alloc_ops; /* operations for the allocation counts */
    int cpu_a, cpu_b;   /* the two CPUs used for placements (-1: none) */
    double load_start;  /* load average when the run started */
} BenchConfig;

extern BenchConfig bench_cfg;

void bench_config_init(bool quick);

/* Client and server CPUs of a placement; "same" or "split". */
typedef enum BenchPlacement {
    BENCH_SAME_CPU,
    BENCH_SPLIT_CPU,
} BenchPlacement;

const char *bench_placement_name(BenchPlacement p);
bool bench_placement_available(BenchPlacement p);
int bench_placement_server_cpu(BenchPlacement p);
int bench_placement_client_cpu(BenchPlacement p);

/* Pin the calling thread to @cpu; -1 restores the CPUs we started with. */
void bench_pin(int cpu);

uint64_t bench_now_ns(void);

/*
 * One measured batch of @iters operations: stores the elapsed time in
 * *@ns.  bench_measure() warms up, sizes the batch to bench_cfg.batch_ns
 * (at most @max_iters operations) and returns the median ns per operation
 * of bench_cfg.reps batches.
 */
typedef bool (*BenchBatchFn)(void *opaque, uint64_t iters, double *ns,
                             GError **errp);
bool bench_measure(BenchBatchFn fn, void *opaque, uint64_t max_iters,
                   double *ns_per_op, GError **errp);
/*
 * The same for a figure and the limit it is compared with, their batches
 * interleaved (a, b, a, b...) so that a change in machine load hits both:
 * the ratio is then much steadier than that of two separate measurements.
 */
typedef struct BenchStat {
    double median; /* ns per operation: the median batch */
    double best;   /* ns per operation: the fastest batch */
} BenchStat;
bool bench_measure_pair(BenchBatchFn fa, void *a, BenchBatchFn fb, void *b,
                        BenchStat *sa, BenchStat *sb, GError **errp);

/* MiB/s for @bytes per operation taking @ns_per_op. */
double bench_mib_s(uint64_t bytes, double ns_per_op);

/* "4 KiB", "64 KiB", "1 MiB". */
const char *bench_size_name(uint64_t bytes);

/* A cheap 64-bit checksum (FNV-1a) to check data after a phase. */
uint64_t bench_checksum(const void *buf, size_t len);
void bench_fill(void *buf, size_t len, uint64_t seed);

/* Resident set size and open fds of this process. */
uint64_t bench_rss_bytes(void);
unsigned bench_fd_count(void);
/* The 1-minute load average, -1 if unknown: a busy machine skews all. */
double bench_loadavg(void);

/* ---- allocation counter (bench-alloc.c) ---- */

/* Heap allocations (malloc, calloc, realloc) so far in this process. */
uint64_t bench_alloc_count(void);
bool bench_alloc_counting(void);

/* ---- results (bench-report.c) ---- */

/*
 * One figure.  @limit_key names the result it is compared with ("" for
 * none); the ratio is value / limit in the same unit.
 */
typedef struct BenchResult {
    char section[16];
    char key[64];
    char label[64];
    char unit[16];
    double value; /* from the median batch */
    double best;  /* from the fastest batch (= value if unknown) */
    char limit_key[64];
    double limit_value; /* measured with the figure (paired); 0: look up */
    double limit_best;
} BenchResult;

void bench_add(const char *section, const char *key, const char *label,
               const char *unit, double value, const char *limit_key);
/*
 * A figure measured with bench_measure_pair(): median and best values in
 * @unit, and those of its limit measured alongside it (0: none).
 */
typedef struct BenchFigure {
    double value, best;
    double limit_value, limit_best;
} BenchFigure;
void bench_add_figure(const char *section, const char *key, const char *label,
                      const char *unit, const BenchFigure *f,
                      const char *limit_key);
/* Turn ns per operation into the unit (MiB/s for @bytes, or ns/op). */
double bench_in_unit(uint64_t bytes, double ns_per_op);
const BenchResult *bench_find(const char *key);
/* value / limit of @key (paired limit first); false if not measured. */
bool bench_ratio(const char *key, double *ratio);
/* The same from the fastest batches, which other load disturbs least. */
bool bench_ratio_best(const char *key, double *ratio);
/* An error that stopped part of a section (printed and put in JSON). */
void bench_add_error(const char *section, const char *what, const GError *err);
/* A target from the issue: @value compared with @threshold. */
typedef struct BenchTarget {
    char name[96];
    double value;  /* from the fastest batches */
    double median; /* the same ratio from the median batches */
    double threshold;
    bool at_least;  /* value >= threshold, else value <= threshold */
    bool available; /* both figures were measured */
    bool met;
    /* Not a goal: "ceiling" or "floor" of the target before it, or NULL. */
    const char *bound;
} BenchTarget;

void bench_add_target(const char *name, double value, double median,
                      double threshold, bool at_least, bool available);
/*
 * A ratio printed under a target as its bound (text output only): @bound
 * is "ceiling" (the best the target's ratio can be) or "floor".
 */
void bench_add_bound(const char *name, const char *bound, double value,
                     double median, bool available);
/* Compute every target from the results (bench-targets.c). */
void bench_targets(void);

void bench_report_text(void);
void bench_report_json(void);
void bench_report_free(void);

/* ---- the server child and client connections (bench-conn.c) ---- */

/* Registers of the benchmark device's BAR0 (a callback region). */
#define BENCH_BAR0_SIZE 4096
#define BENCH_REG_ADDR 0x00       /* u64: guest address of the transfers */
#define BENCH_REG_LEN 0x08        /* u64: bytes per transfer */
#define BENCH_REG_COUNT 0x10      /* u64: number of transfers */
#define BENCH_REG_GO 0x18         /* u32: write 1 (read) or 2 (write) to run */
#define BENCH_REG_SEED 0x1c       /* u32: pattern seed for DMA writes */
#define BENCH_REG_NS 0x20         /* u64: time the transfers took */
#define BENCH_REG_ALLOCS 0x28     /* u64: server allocations during them */
#define BENCH_REG_SUM 0x30        /* u64: checksum of the server buffer */
#define BENCH_REG_STATUS 0x38     /* u32: errno of the first failure, or 0 */
#define BENCH_REG_SCRATCH 0x40    /* u32: plain register for latency */
#define BENCH_REG_ALLOCS_NOW 0x48 /* u64: server allocations so far */
#define BENCH_REG_SEGS 0x50       /* u32: transfers per call (vectored) */
#define BENCH_GO_READ 1
#define BENCH_GO_WRITE 2

#define BENCH_BAR2_SIZE (1 * MiB) /* memory-backed, mmapped by the client */
#define BENCH_XFER_MAX (1 * MiB)
#define BENCH_SEGS_MAX 16 /* transfers in one vus_dma_readv()/_writev() */
#define BENCH_RAM_IOVA 0x80000000ull
#define BENCH_RAM_SIZE (2 * MiB)

/* Kind of guest RAM: a memfd, or anonymous memory. */
typedef enum BenchRam {
    BENCH_RAM_NONE,
    BENCH_RAM_MEMFD,
    BENCH_RAM_ANON,
} BenchRam;

typedef struct BenchConn {
    pid_t pid;
    int sock; /* until the proxy takes it */
    VFIOUserProxy *proxy;
    VFIOUserContainer *container;
    VFIOUserDevice dev;
    bool dev_ok;
    uint8_t *ram;
    int ram_fd;
} BenchConn;

/*
 * A server process's body: serve @sock (fd 3, the only fd it has open but
 * stdio) with the CPU pinned to @cpu (-1: any); returns the exit status.
 */
typedef int (*BenchChildFn)(int sock, int cpu);

/* Fork @child on one end of a socket pair; @c->sock is the other end. */
bool bench_child_spawn(BenchConn *c, BenchChildFn child, int cpu,
                       GError **errp);
/* Fork a server serving one end of a socket pair, pinned to @cpu. */
bool bench_server_spawn(BenchConn *c, int cpu, GError **errp);
/* Connect to the spawned server, set up the device and map guest RAM. */
bool bench_conn_connect(BenchConn *c, VFIOUserDMAAccess policy, BenchRam ram,
                        GError **errp);
/* Spawn + connect; the client threads are pinned to @client_cpu. */
bool bench_conn_open(BenchConn *c, int client_cpu, int server_cpu,
                     VFIOUserDMAAccess policy, BenchRam ram, GError **errp);
/* Close the client side and reap the server. */
void bench_conn_close(BenchConn *c);

typedef struct BenchDmaRun {
    bool is_write;
    uint64_t len;
    uint64_t count;
    uint32_t seed;
    uint32_t segs; /* > 1: that many transfers per vectored call */
    /* out */
    uint64_t ns;
    uint64_t server_allocs;
    uint64_t sum;
} BenchDmaRun;

/* Have the server run @run->count transfers; checks the data after. */
bool bench_conn_dma(BenchConn *c, BenchDmaRun *run, GError **errp);
uint64_t bench_conn_server_allocs(BenchConn *c, GError **errp);

/* VERSION by hand on a spawned server's socket (bench-bare.c). */
bool bench_bare_connect(BenchConn *c, GError **errp);
/* 4-byte BAR0 REGION_READs with one send and one receive each. */
bool bench_bare_read_batch(void *opaque, uint64_t iters, double *ns,
                           GError **errp);

/* The server child's main function (bench-server.c). */
int bench_server_main(int sock, int cpu);
/*
 * Message-mode DMA request size and requests in flight of the servers
 * spawned from now on (VusServerOptions dma_msg_chunk / dma_msg_window;
 * 0 = the library's default).
 */
void bench_server_set_dma_msg(uint32_t chunk, uint32_t window);

/* ---- limit probes (bench-limits.c) ---- */

/*
 * A limit that a section can measure next to its own figure: a batch
 * function (bench_limit_batch) plus what it needs (buffers, fds, a peer
 * process).  In-process probes run pinned to @cpu; socket probes run a
 * peer process pinned to @cpu and run on the caller's CPU themselves.
 */
typedef struct BenchLimit BenchLimit;

BenchLimit *bench_limit_memcpy(uint64_t size, int cpu);
BenchLimit *bench_limit_load4(int cpu);
/* @kind: "memfd" or "procmem" (anonymous memory via /proc/self/mem). */
BenchLimit *bench_limit_file(const char *kind, bool is_write, uint64_t size,
                             int cpu, GError **errp);
BenchLimit *bench_limit_socket(bool stream, int peer_cpu, GError **errp);
/* Round trips of @msg_bytes each way (at most 64), one send() each. */
BenchLimit *bench_limit_pingpong(uint64_t msg_bytes, int peer_cpu,
                                 GError **errp);
/*
 * The same ping-pong, both sides receiving as the libraries do: recvmsg()
 * with room for fds, and on this side a receive timeout (SO_RCVTIMEO),
 * as a client whose calls time out must wait.
 */
BenchLimit *bench_limit_pingpong_wait(uint64_t msg_bytes, int peer_cpu,
                                      GError **errp);
/*
 * A one-way stream of @msg_bytes messages, one send() each, which the peer
 * takes as they come: the floor of unbatched posted writes.
 */
BenchLimit *bench_limit_oneway(uint64_t msg_bytes, int peer_cpu, GError **errp);
/* A posted 4-byte REGION_WRITE on the wire: header, region_io, data. */
#define BENCH_POSTED_MSG_BYTES 36u
bool bench_limit_batch(void *limit, uint64_t iters, double *ns, GError **errp);
uint64_t bench_limit_bytes(BenchLimit *l); /* per operation */
void bench_limit_free(BenchLimit *l);

/* --op NAME --count N (bench-ops.c): the exit status of the program. */
int bench_ops_main(const char *name, uint64_t count);

/* ---- sections ---- */

void bench_limits(void);
void bench_dma(void);
void bench_dma_sweep(void); /* message DMA: request size x requests in flight */
void bench_net(void);       /* bench-net.c: the virtio-net device */
void bench_region(void);
void bench_memory(void);
void bench_scale(void);

#endif /* BENCH_BENCH_H */
