#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Check the names our libraries export, so that a program can link them
next to libvfio-user (whose public API uses the prefix vfu_).

Every global symbol defined in the server library must start with vus_,
every one in the shared util library with vfio_user_, and none may be one
of libvfio-user's exported names (listed in the file given with --avoid).
Symbols a sanitizer adds for our own globals (gcc's __odr_asan.NAME) are
not ours to name and are left out.

Usage: check-symbols.py --avoid NAMES-FILE PREFIX=LIBRARY.a...
"""
import subprocess
import sys

# Names the compiler makes up when it instruments a build: gcc's ASan adds
# one __odr_asan.NAME per instrumented global.
SANITIZER_PREFIXES = ('__odr_asan.', '__odr_asan_')


def defined_globals(lib):
    out = subprocess.run(['nm', '-g', '--defined-only', lib], check=True,
                         capture_output=True, text=True).stdout
    return [f[2] for f in (line.split() for line in out.splitlines())
            if len(f) == 3 and not f[2].startswith(SANITIZER_PREFIXES)]


def main(argv):
    if len(argv) < 3 or argv[0] != '--avoid':
        print(__doc__.strip().splitlines()[-1])
        return 2
    avoid = {line.strip() for line in open(argv[1])
             if line.strip() and not line.startswith('#')}
    bad = 0
    for spec in argv[2:]:
        prefix, lib = spec.split('=', 1)
        names = defined_globals(lib)
        wrong = [n for n in names if not n.startswith(prefix) or n in avoid]
        for name in wrong:
            print('%s: exports %s (must start with %s, and not be '
                  'a libvfio-user name)' % (lib, name, prefix))
        if not wrong:
            print('%s: %d global symbols, all %s*' % (lib, len(names), prefix))
        bad += len(wrong)
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
