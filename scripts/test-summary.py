#!/usr/bin/env python3
"""Count test results from meson's testlog.json files.

Each TAP test case counts once (GTest binaries run with --tap); a test
without TAP output counts as one.  A test binary that failed without
reporting a failing case (a crash, a timeout) counts one failure more.
Prints 'N passed, N failed' and exits 1 when anything failed.
"""
import json
import re
import sys

TAP = re.compile(r'^(not ok|ok)\b(.*)$', re.M)


def count(path):
    passed = failed = skipped = 0
    with open(path) as f:
        for line in f:
            entry = json.loads(line)
            result = entry.get('result', '')
            out = entry.get('stdout', entry.get('stdo', '')) or ''
            cases = TAP.findall(out)
            p = sum(1 for k, rest in cases
                    if k == 'ok' and '# SKIP' not in rest)
            s = sum(1 for k, rest in cases if k == 'ok' and '# SKIP' in rest)
            fl = sum(1 for k, _ in cases if k == 'not ok')
            if not cases:
                if result == 'OK':
                    p = 1
                elif result == 'SKIP':
                    s = 1
                else:
                    fl = 1
            elif result not in ('OK', 'SKIP') and fl == 0:
                fl = 1
            if fl:
                print(f"FAILED: {entry.get('name')} ({result})",
                      file=sys.stderr)
            passed += p
            failed += fl
            skipped += s
    return passed, failed, skipped


def main():
    total = [0, 0, 0]
    for path in sys.argv[1:]:
        for i, n in enumerate(count(path)):
            total[i] += n
    print(f"{total[0]} passed, {total[1]} failed, {total[2]} skipped")
    return 1 if total[1] else 0


if __name__ == '__main__':
    sys.exit(main())
