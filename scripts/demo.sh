#!/bin/bash
# demo.sh BUILD_DIR: the edu DMA round trip in every access mode.
#
# Starts the sample edu server, then for each guest RAM setup starts
# vfio-user-vmm with one edu device, moves 1 MiB (the edu buffer) guest RAM
# -> device -> guest RAM several times through the qtest socket
# (scripts/demo-driver.py), checks every byte and prints one table row:
# the RAM backend, the access mode `info vfio-user` reports for the map,
# the bytes moved, the DMA throughput and whether the data was verified.
# Everything lives in a temporary directory removed on exit.  Exits non-zero
# if any row fails.
set -u

build=${1:?usage: $0 BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
vmm=$build/system/vfio-user-vmm
server=$build/contrib/vfio-user-server/vfio-user-server
driver=$here/demo-driver.py
python=${PYTHON:-python3}
size=${DEMO_SIZE:-1048576}
rounds=${DEMO_ROUNDS:-8}

for bin in "$vmm" "$server"; do
    if [ ! -x "$bin" ]; then
        echo "demo.sh: $bin not found: build first (ninja -C $build)" >&2
        exit 1
    fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vfu-demo.XXXXXX") || exit 1
server_pid=
driver_pid=
cleanup() {
    for pid in $driver_pid $server_pid; do
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    exec 3<&- 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The server's stdout goes through a FIFO so that we can wait for its ready
# line (no sleeping); fd 3 stays open so it never sees a closed pipe.
mkfifo "$tmp/server.out"
"$server" --device edu --socket "$tmp/edu.sock" \
    >"$tmp/server.out" 2>"$tmp/server.err" &
server_pid=$!
exec 3<"$tmp/server.out"
if ! IFS= read -r -t 30 ready <&3 || [[ $ready != *"listening on"* ]]; then
    echo "demo.sh: vfio-user-server did not start:" >&2
    cat "$tmp/server.err" >&2
    exit 1
fi
echo "$ready"
echo

# backend  dma-access  access mode the map must get
configs=(
    "memfd auto mmap"
    "file auto mmap"
    "ram auto message"
    "memfd file-io file-io"
    "ram file-io file-io /proc/self/mem"
)

row() {
    printf '%-30s | %-24s | %10s | %9s | %s\n' "$@"
}
row "RAM backend" "access mode (info)" "bytes" "MB/s" "verified"
row "------------------------------" "------------------------" \
    "----------" "---------" "--------"
failed=0
for config in "${configs[@]}"; do
    read -r backend access expect <<<"$config"
    # in the background, so that a signal reaches our trap at once
    "$python" "$driver" --vmm "$vmm" --socket "$tmp/edu.sock" \
        --workdir "$tmp" --backend "$backend" --dma-access "$access" \
        --expect "$expect" --size "$size" --rounds "$rounds" \
        >"$tmp/row" &
    driver_pid=$!
    wait "$driver_pid"
    rc=$?
    driver_pid=
    result=$(cat "$tmp/row")
    IFS=$'\t' read -r _ mode bytes mbps verdict <<<"$result"
    label="memory-backend-$backend"
    [ "$access" != auto ] && label="$label ($access)"
    row "$label" "${mode:--}" "${bytes:-0}" "${mbps:-0}" "${verdict:-FAILED}"
    if [ $rc -ne 0 ] || [ "${verdict:-}" != verified ]; then
        failed=1
    fi
done
if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "demo.sh: vfio-user-server died during the demo:" >&2
    cat "$tmp/server.err" >&2
    failed=1
fi
echo
if [ $failed -ne 0 ]; then
    echo "demo.sh: some rows FAILED" >&2
    exit 1
fi
echo "all access modes verified"
