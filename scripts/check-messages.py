#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Check that no message in the C sources is split across string literals.

A message split as "two sparse mmap " "capabilities" cannot be found with
grep.  Adjacent literals are allowed only where the first one ends a line
of output (with \\n), as in help texts, or where a macro such as PRIx64
stands between them.  With --fix, join the offending literals in place.

Usage: check-messages.py [--fix] FILE|DIR...   (a DIR: its *.c and *.h)
       check-messages.py --self-test
"""
import os
import re
import sys
import tempfile

# A C string literal, then only blanks/newlines, then another literal.
LIT = r'"(?:[^"\\\n]|\\.)*"'
# A first part that ends a line, is empty, or ends with a numeric escape
# (joining "\x33" "01" would change the byte) may be followed by another.
ENDS_LINE_OR_ESCAPE = re.compile(r'(\\n|^"|\\x[0-9a-fA-F]+|\\[0-7]{1,3})"$')
SKIP = re.compile(r'//[^\n]*|/\*.*?\*/|\'(?:[^\'\\\n]|\\.)*\'', re.S)


def blank_out(s):
    """Replace comments and char constants by spaces, keeping offsets."""
    return SKIP.sub(lambda m: re.sub(r'[^\n]', ' ', m.group(0)), s)


def split_points(text):
    """Offsets (start, end) of the gap between two literals of a message."""
    clean = blank_out(text)
    out = []
    prev = None
    for m in re.finditer(LIT, clean):
        if (prev and not clean[prev.end():m.start()].strip() and
                not ENDS_LINE_OR_ESCAPE.search(prev.group(0))):
            out.append((prev.end() - 1, m.start() + 1))
        prev = m
    return out


def line_of(text, off):
    return text.count('\n', 0, off) + 1


def sources(args):
    for a in args:
        if not os.path.isdir(a):
            yield a
            continue
        for root, dirs, files in os.walk(a):
            dirs[:] = sorted(d for d in dirs
                             if not d.startswith(('.', 'build')))
            for f in sorted(files):
                if f.endswith(('.c', '.h')):
                    yield os.path.join(root, f)


def self_test():
    """The checker must catch a split message and pass a help text."""
    cases = [('f("two sparse mmap "\n  "capabilities");', 1),
             ('const char h[] = "a\\n"\n "b\\n";', 0),
             ('f("%" PRIx64 " bytes"); /* "a" "b" */', 0),
             ('f(c ? " " : "", "x");', 0),
             ('g("\\x33" "01", "\\0" "1");', 0)]
    for src, want in cases:
        with tempfile.NamedTemporaryFile('w', suffix='.c') as t:
            t.write(src)
            t.flush()
            got = len(split_points(open(t.name).read()))
        if got != want:
            print('self-test: %r: %d splits, expected %d' % (src, got, want))
            return 1
    return 0


def main(argv):
    if argv == ['--self-test']:
        return self_test()
    fix = argv[:1] == ['--fix']
    files = sources(argv[1:] if fix else argv)
    bad = 0
    for path in files:
        text = open(path, encoding='utf-8').read()
        points = split_points(text)
        if not points:
            continue
        if fix:
            for start, end in reversed(points):
                text = text[:start] + text[end:]
            open(path, 'w', encoding='utf-8').write(text)
            continue
        for start, _ in points:
            print('%s:%d: message split across string literals'
                  % (path, line_of(text, start)))
            bad += 1
    if bad:
        print('check-messages: %d split message(s); join them (they must '
              'stay greppable), or end the first part with \\n' % bad)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
