#!/usr/bin/env python3
# Check the commits of a patch series against the project's rules.
#
# Usage: checkpatch.py [-C DIR] [--no-clang-format] [RANGE]
#
# RANGE is a git revision range (default HEAD~1..HEAD); a single revision
# checks just that commit.  For every non-merge commit:
#   - the subject reads "subsystem: summary" (subsystem: a lowercase path or
#     word such as hw/vfio-user, docs, tests/qtest; several may be joined by
#     commas; an upper-case name is accepted only when it is a file or
#     directory of the tree, such as MAINTAINERS) and is at most 76 chars;
#   - a blank line follows the subject and the body says something besides
#     trailers;
#   - there is a "Signed-off-by: Name <address>" line;
#   - no added line ends in whitespace;
#   - the lines a commit adds or changes in .c/.h files are as clang-format
#     (--style=file, with the commit's own .clang-format) would write them.
#     Lines the commit did not touch are not judged.  Without clang-format
#     this check is skipped with a note.
# Each problem is printed as "COMMIT: ERROR: what is wrong"; the exit status
# is 1 when any problem was found, 2 when git itself failed.
#
# Copyright (c) 2026 vfio-user-client developers
# SPDX-License-Identifier: GPL-2.0-or-later

import argparse
import difflib
import os
import re
import shutil
import subprocess
import sys
import tempfile

MAX_SUBJECT = 76
SUBSYS = r'[A-Za-z0-9][A-Za-z0-9_.+/-]*'
SUBJECT_RE = re.compile(r'^(%s(?:, ?%s)*): (\S.*)$' % (SUBSYS, SUBSYS))
TRAILER_RE = re.compile(r'^[A-Z][A-Za-z-]+: .+$')
SOB_RE = re.compile(r'^Signed-off-by: [^<>]+ <[^<>\s]+@[^<>\s]+>\s*$')
HUNK_RE = re.compile(r'^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@')
C_FILE_RE = re.compile(r'\.[ch]$')


class GitError(Exception):
    pass


def git(repo, *args, binary=False):
    proc = subprocess.run(['git', '-C', repo, '-c', 'core.quotePath=off']
                          + list(args),
                          capture_output=True)
    if proc.returncode != 0:
        raise GitError('git %s: %s' % (' '.join(args),
                                       proc.stderr.decode(errors='replace')
                                       .strip()))
    return proc.stdout if binary else proc.stdout.decode(errors='replace')


def commits_in(repo, rng):
    if rng is None:
        try:
            git(repo, 'rev-parse', '--verify', '-q', 'HEAD~1^{commit}')
            rng = 'HEAD~1..HEAD'
        except GitError:
            rng = 'HEAD'  # a repository with a single commit
    if '..' in rng:
        out = git(repo, 'rev-list', '--reverse', rng)
    else:
        out = git(repo, 'rev-list', '--no-walk', rng)
    return out.split()


def check_message(repo, commit, msg):
    """Problems with the commit message @msg of @commit."""
    problems = []
    lines = msg.rstrip('\n').split('\n')
    subject = lines[0]
    m = SUBJECT_RE.match(subject)
    if not m:
        problems.append('subject "%s" is not "subsystem: summary" '
                        '(e.g. "hw/vfio-user: fix DMA_MAP fallback")'
                        % subject)
    else:
        for name in re.split(r', ?', m.group(1)):
            if name[0].isupper() and not names_file(repo, commit, name):
                problems.append('subject subsystem "%s" should be lower case '
                                '(or name a file of the tree)' % name)
        if m.group(2).endswith('.'):
            problems.append('subject should not end with a full stop')
    if len(subject) > MAX_SUBJECT:
        problems.append('subject is %d characters long, at most %d allowed'
                        % (len(subject), MAX_SUBJECT))
    if len(lines) > 1 and lines[1].strip():
        problems.append('the subject must be followed by a blank line')
    if not body_text(lines[1:]):
        problems.append('the body is empty: say why the change is needed')
    if not any(SOB_RE.match(ln) for ln in lines):
        problems.append('no "Signed-off-by: Name <address>" line')
    return problems


def body_text(lines):
    """Non-blank body lines, leaving out the closing trailer paragraph."""
    paragraphs, cur = [], []
    for ln in lines + ['']:
        if ln.strip():
            cur.append(ln)
        elif cur:
            paragraphs.append(cur)
            cur = []
    if paragraphs and all(TRAILER_RE.match(ln) for ln in paragraphs[-1]):
        paragraphs.pop()
    return [ln for par in paragraphs for ln in par]


def names_file(repo, commit, name):
    """Is @name a path of the tree, or the stem of one (README.md)?"""
    if path_exists(repo, commit, name):
        return True
    parent, _, base = name.rpartition('/')
    try:
        entries = git(repo, 'ls-tree', '--name-only',
                      '%s:%s' % (commit, parent)).split('\n')
    except GitError:
        return False
    return any(e.split('.', 1)[0] == base for e in entries if e)


def path_exists(repo, commit, path):
    try:
        git(repo, 'cat-file', '-e', '%s:%s' % (commit, path))
        return True
    except GitError:
        return False


def added_lines(repo, commit):
    """{path: [(lineno, text), ...]} of the lines @commit adds."""
    diff = git(repo, 'show', '--format=', '-U0', '--no-color', '--no-renames',
               '--no-ext-diff', commit)
    result, path, lineno = {}, None, 0
    for line in diff.split('\n'):
        if line.startswith('+++ '):
            target = line[4:]
            path = None if target == '/dev/null' else target[2:]
            continue
        m = HUNK_RE.match(line)
        if m:
            lineno = int(m.group(1))
            continue
        if path and line.startswith('+'):
            result.setdefault(path, []).append((lineno, line[1:]))
            lineno += 1
    return result


def check_whitespace(added):
    problems = []
    for path, lines in sorted(added.items()):
        for lineno, text in lines:
            if text != text.rstrip():
                problems.append('%s:%d: trailing whitespace' % (path, lineno))
    return problems


def line_ranges(numbers):
    """Collapse sorted line numbers into (first, last) ranges."""
    ranges = []
    for n in numbers:
        if ranges and n == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], n)
        else:
            ranges.append((n, n))
    return ranges


def check_format(repo, commit, added, clang_format):
    problems = []
    c_files = sorted(p for p in added if C_FILE_RE.search(p))
    if not c_files:
        return problems
    if not path_exists(repo, commit, '.clang-format'):
        return ['note: no .clang-format in this commit, format not checked']
    with tempfile.TemporaryDirectory(prefix='checkpatch-') as tmp:
        with open(os.path.join(tmp, '.clang-format'), 'wb') as f:
            f.write(git(repo, 'show', '%s:.clang-format' % commit,
                        binary=True))
        for path in c_files:
            problems += format_one(repo, commit, path, added[path],
                                   clang_format, tmp)
    return problems


def format_one(repo, commit, path, lines, clang_format, tmp):
    src = git(repo, 'show', '%s:%s' % (commit, path))
    local = os.path.join(tmp, path)
    os.makedirs(os.path.dirname(local), exist_ok=True)
    with open(local, 'w') as f:
        f.write(src)
    ranges = line_ranges(sorted(n for n, _ in lines))
    cmd = [clang_format, '--style=file'] + \
        ['--lines=%d:%d' % r for r in ranges] + [local]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp)
    if proc.returncode != 0:
        return ['%s: clang-format failed: %s' % (path, proc.stderr.strip())]
    before = src.split('\n')
    after = proc.stdout.split('\n')
    problems = []
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == 'equal':
            continue
        first, last = i1 + 1, max(i1 + 1, i2)
        change = ['    -' + ln for ln in before[i1:i2]] + \
            ['    +' + ln for ln in after[j1:j2]]
        problems.append('%s:%d-%d: not clang-format clean, it wants:\n%s'
                        % (path, first, last, '\n'.join(change)))
    return problems


def check_commit(repo, commit, clang_format):
    problems = []
    parents = git(repo, 'rev-list', '--parents', '-n', '1', commit).split()
    if len(parents) > 2:
        return problems, ['merge commit, not checked']
    msg = git(repo, 'log', '-1', '--format=%B', commit)
    problems += check_message(repo, commit, msg)
    added = added_lines(repo, commit)
    problems += check_whitespace(added)
    notes = []
    if clang_format:
        for p in check_format(repo, commit, added, clang_format):
            (notes if p.startswith('note: ') else problems).append(p)
    return problems, notes


def main():
    ap = argparse.ArgumentParser(
        description='Check commit messages, whitespace and C formatting of '
                    'the commits in a git range.')
    ap.add_argument('range', nargs='?', default=None,
                    help='revision range (default HEAD~1..HEAD) or one commit')
    ap.add_argument('-C', dest='repo', default='.',
                    help='repository to check (default: current directory)')
    ap.add_argument('--no-clang-format', action='store_true',
                    help='do not check C formatting')
    args = ap.parse_args()

    clang_format = None
    if not args.no_clang_format:
        clang_format = shutil.which(os.environ.get('CLANG_FORMAT',
                                                   'clang-format'))
        if not clang_format:
            print('note: clang-format not found, C formatting not checked')
    try:
        commits = commits_in(args.repo, args.range)
        total = 0
        for commit in commits:
            problems, notes = check_commit(args.repo, commit, clang_format)
            short = git(args.repo, 'log', '-1', '--format=%h ("%s")', commit)
            short = short.strip()
            for n in notes:
                print('%s: %s' % (short, n))
            for p in problems:
                print('%s: ERROR: %s' % (short, p))
            total += len(problems)
    except GitError as e:
        print('checkpatch: %s' % e)
        return 2
    if total:
        print('checkpatch: %d problem(s) in %d commit(s)'
              % (total, len(commits)))
        return 1
    print('checkpatch: %d commit(s) checked, no problems' % len(commits))
    return 0


if __name__ == '__main__':
    sys.exit(main())
