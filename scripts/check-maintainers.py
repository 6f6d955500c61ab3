#!/usr/bin/env python3
# Check that MAINTAINERS is well formed and covers every file in the tree.
#
# Usage: check-maintainers.py [--strict] [--list] [SOURCE_ROOT]
#
# The files are those "git ls-files" reports; outside a git checkout the
# tree is walked instead (skipping build directories).  A file is covered
# when an F: pattern of some section matches it and no X: pattern of that
# same section excludes it.  Patterns follow MAINTAINERS' own header: a
# trailing "/" covers a whole directory, "*" and "?" stay inside one path
# component, "**/" stands for any number of directories.
#
# Exit status: 0 when every file is covered and every section is valid,
# 1 otherwise (each problem is printed on its own line).  Patterns that match
# no file are reported as warnings, or as errors with --strict.
#
# Copyright (c) 2026 vfio-user-client developers
# SPDX-License-Identifier: GPL-2.0-or-later

import argparse
import os
import re
import subprocess
import sys

STATUSES = ('Supported', 'Maintained', 'Odd Fixes', 'Orphan', 'Obsolete')
FIELD_RE = re.compile(r'^([A-Z]):\s*(.*?)\s*$')
PERSON_RE = re.compile(r'^[^<>]+ <[^<>@\s]+@[^<>@\s]+\.[^<>@\s]+>$')
SKIP_DIRS = ('.git', '__pycache__', '_build')


class Section:
    def __init__(self, title, lineno):
        self.title = title
        self.lineno = lineno
        self.fields = {}

    def add(self, key, value):
        self.fields.setdefault(key, []).append(value)

    def get(self, key):
        return self.fields.get(key, [])


def parse_maintainers(path):
    """Return (sections, problems) for the MAINTAINERS file at @path."""
    sections, problems = [], []
    with open(path, encoding='utf-8') as f:
        lines = f.read().splitlines()
    current = None
    for i, line in enumerate(lines):
        underline = i + 1 < len(lines) and re.match(r'^-{3,}$', lines[i + 1])
        if line and not line[0].isspace() and underline:
            current = Section(line.strip(), i + 1)
            sections.append(current)
            continue
        m = FIELD_RE.match(line)
        if not m or current is None:
            continue
        key, value = m.groups()
        if key not in 'MRSFXLWTKN':
            problems.append('MAINTAINERS:%d: unknown field "%s:"'
                            % (i + 1, key))
        current.add(key, value)
    for s in sections:
        where = 'MAINTAINERS:%d: section "%s"' % (s.lineno, s.title)
        status = s.get('S')
        if len(status) != 1 or status[0] not in STATUSES:
            problems.append('%s: needs exactly one S: line, one of %s'
                            % (where, ', '.join(STATUSES)))
        elif not s.get('M') and status[0] not in ('Orphan', 'Obsolete'):
            problems.append('%s: no M: line (mark it S: Orphan instead)'
                            % where)
        for person in s.get('M') + s.get('R'):
            if not PERSON_RE.match(person):
                problems.append('%s: "%s" is not "Name <address@domain>"'
                                % (where, person))
        if not s.get('F'):
            problems.append('%s: no F: line' % where)
    return sections, problems


def glob_to_regex(pattern):
    """Translate one F:/X: pattern into an anchored regular expression."""
    directory = pattern.endswith('/')
    out, i = '', 0
    while i < len(pattern):
        if pattern.startswith('**/', i):
            out += '(?:[^/]+/)*'
            i += 3
        elif pattern[i] == '*':
            out += '[^/]*'
            i += 1
        elif pattern[i] == '?':
            out += '[^/]'
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile('^' + out + ('.*' if directory else '(?:/.*)?') + '$')


def list_files(root):
    """Tracked files relative to @root, or every file when not in git."""
    try:
        out = subprocess.run(['git', '-C', root, 'ls-files', '-z'],
                             check=True, capture_output=True).stdout
        inside = subprocess.run(['git', '-C', root, 'rev-parse',
                                 '--show-prefix'], check=True,
                                capture_output=True, text=True).stdout.strip()
        if inside == '':
            files = [f for f in out.decode().split('\0') if f]
            if files:
                return sorted(files)
    except (OSError, subprocess.CalledProcessError):
        pass
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames
                       if d not in SKIP_DIRS and not d.startswith('build')]
        for name in filenames:
            rel = os.path.relpath(os.path.join(dirpath, name), root)
            files.append(rel.replace(os.sep, '/'))
    return sorted(files)


def check(root, strict, show):
    path = os.path.join(root, 'MAINTAINERS')
    if not os.path.exists(path):
        print('check-maintainers: %s does not exist' % path)
        return 1
    sections, problems = parse_maintainers(path)
    files = list_files(root)
    compiled = [(s, [(p, glob_to_regex(p)) for p in s.get('F')],
                 [glob_to_regex(p) for p in s.get('X')]) for s in sections]
    used = set()
    uncovered = []
    for f in files:
        owners = []
        for s, fpats, xpats in compiled:
            hits = [p for p, rx in fpats if rx.match(f)]
            if hits and not any(rx.match(f) for rx in xpats):
                owners.append(s.title)
                used.update((s.title, p) for p in hits)
        if not owners:
            uncovered.append(f)
        elif show:
            print('%s: %s' % (f, '; '.join(owners)))
    for f in uncovered:
        problems.append('%s: not covered by any F: pattern in MAINTAINERS'
                        % f)
    warnings = []
    for s, fpats, _ in compiled:
        for p, _ in fpats:
            if (s.title, p) not in used:
                warnings.append('MAINTAINERS: section "%s": F: %s matches '
                                'no file' % (s.title, p))
    if strict:
        problems += warnings
    else:
        for w in warnings:
            print('warning: ' + w)
    for p in problems:
        print('error: ' + p)
    if problems:
        print('check-maintainers: %d problem(s) in %d files, %d sections'
              % (len(problems), len(files), len(sections)))
        return 1
    print('check-maintainers: %d files covered by %d sections'
          % (len(files), len(sections)))
    return 0


def main():
    ap = argparse.ArgumentParser(
        description='Check that MAINTAINERS covers every file.')
    ap.add_argument('root', nargs='?',
                    default=os.path.join(os.path.dirname(__file__), '..'),
                    help='source tree (default: the one holding this script)')
    ap.add_argument('--strict', action='store_true',
                    help='patterns that match no file are errors')
    ap.add_argument('--list', action='store_true',
                    help='print the sections covering each file')
    args = ap.parse_args()
    return check(os.path.abspath(args.root), args.strict, args.list)


if __name__ == '__main__':
    sys.exit(main())
