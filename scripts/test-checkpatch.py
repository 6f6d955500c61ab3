#!/usr/bin/env python3
# Self-test of scripts/checkpatch.py, printed as TAP.
#
# Builds a throw-away git repository with one good commit and one bad commit
# per rule, runs checkpatch.py on each commit and checks its verdict (exit
# status and the message naming the problem).  The formatting cases run only
# when clang-format is installed (they are reported as skipped otherwise).
#
# Copyright (c) 2026 vfio-user-client developers
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKPATCH = os.path.join(HERE, 'checkpatch.py')
SOB = 'Signed-off-by: Test Author <test@example.org>'
CLANG_FORMAT = ('BasedOnStyle: LLVM\nIndentWidth: 4\nColumnLimit: 80\n'
                'BreakBeforeBraces: Linux\n'
                'AllowShortFunctionsOnASingleLine: None\n')
GOOD_C = 'int add(int a, int b)\n{\n    return a + b;\n}\n'
BAD_C = 'int  sub( int a,int b ) {return a-b;}\n'
# Drop the caller's GIT_* variables: run from "git rebase -x", GIT_DIR would
# point every "git init" below at the caller's repository.
ENV = dict({k: v for k, v in os.environ.items() if not k.startswith('GIT_')},
           GIT_AUTHOR_NAME='Test Author',
           GIT_AUTHOR_EMAIL='test@example.org',
           GIT_COMMITTER_NAME='Test Author',
           GIT_COMMITTER_EMAIL='test@example.org',
           GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM='1')


class Repo:
    def __init__(self, path):
        self.path = path
        self.git('init', '-q')

    def git(self, *args):
        return subprocess.run(['git', '-C', self.path] + list(args),
                              check=True, capture_output=True, text=True,
                              env=ENV).stdout.strip()

    def commit_msg(self, message, files):
        for name, text in files.items():
            full = os.path.join(self.path, name)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, 'w') as f:
                f.write(text)
            self.git('add', name)
        msgfile = os.path.join(self.path, '.git', 'TEST_MSG')
        with open(msgfile, 'w') as f:
            f.write(message)
        self.git('commit', '-q', '--allow-empty', '--cleanup=verbatim',
                 '-F', msgfile)
        return self.git('rev-parse', 'HEAD')


def run_checkpatch(repo, rev, *extra):
    proc = subprocess.run([sys.executable, CHECKPATCH, '-C', repo.path]
                          + list(extra) + [rev],
                          capture_output=True, text=True, env=ENV)
    return proc.returncode, proc.stdout + proc.stderr


def message(subject, body='Explain why the change is needed.', sob=True):
    text = subject + '\n'
    if body is not None:
        text += '\n' + body + '\n'
    if sob:
        text += '\n' + SOB + '\n'
    return text


def cases():
    """(name, message, files, expect_ok, expected text, needs clang-format)"""
    return [
        ('good commit passes', message('util: add a helper'),
         {'util/a.c': GOOD_C}, True, 'no problems', False),
        ('upper-case file name as subsystem passes',
         message('MAINTAINERS: cover util'), {'MAINTAINERS': 'x\n'},
         True, 'no problems', False),
        ('file stem as subsystem passes',
         message('README: explain the helper'), {'README.md': 'x\n'},
         True, 'no problems', False),
        ('subject without subsystem fails', message('Add a helper'),
         {'util/b.c': GOOD_C}, False, 'is not "subsystem: summary"', False),
        ('capitalised word as subsystem fails', message('Fix: the helper'),
         {'util/b2.c': GOOD_C}, False, 'should be lower case', False),
        ('subject over 76 characters fails',
         message('util: ' + 'x' * 71), {'util/c.c': GOOD_C}, False,
         'subject is 77 characters long', False),
        ('body line with a colon counts as body',
         message('util: add d2', body='Note: the old helper leaked.'),
         {'util/d2.c': GOOD_C}, True, 'no problems', False),
        ('empty body fails', message('util: add d', body=None),
         {'util/d.c': GOOD_C}, False, 'the body is empty', False),
        ('missing blank line after the subject fails',
         'util: add e\nbody right below\n\n' + SOB + '\n',
         {'util/e.c': GOOD_C}, False, 'followed by a blank line', False),
        ('missing Signed-off-by fails', message('util: add f', sob=False),
         {'util/f.c': GOOD_C}, False, 'Signed-off-by', False),
        ('trailing whitespace fails', message('docs: add notes'),
         {'docs/notes.txt': 'fine\nnot fine  \n'}, False,
         'docs/notes.txt:2: trailing whitespace', False),
        ('badly formatted C fails', message('util: add g'),
         {'util/g.c': BAD_C}, False, 'util/g.c:1-1: not clang-format clean',
         True),
    ]


def main():
    have_cf = shutil.which('clang-format') is not None
    have_git = shutil.which('git') is not None
    all_cases = cases()
    extra = 2
    print('1..%d' % (len(all_cases) + extra))
    if not have_git:
        for i in range(len(all_cases) + extra):
            print('ok %d # SKIP git is not installed' % (i + 1))
        return 0
    failed = 0
    with tempfile.TemporaryDirectory(prefix='test-checkpatch-') as tmp:
        repo = Repo(tmp)
        repo.commit_msg(message('build: add the style file'),
                        {'.clang-format': CLANG_FORMAT,
                         'old/legacy.c': BAD_C})
        n = 0
        for name, msg, files, ok, text, needs_cf in all_cases:
            n += 1
            if needs_cf and not have_cf:
                print('ok %d - %s # SKIP clang-format is not installed'
                      % (n, name))
                continue
            rev = repo.commit_msg(msg, files)
            rc, out = run_checkpatch(repo, rev)
            good = (rc == 0) == ok and text in out
            failed += not good
            print('%s %d - %s' % ('ok' if good else 'not ok', n, name))
            if not good:
                print('# exit status %d, output:' % rc)
                for line in out.splitlines():
                    print('#   ' + line)
        # Lines a commit did not touch are not judged: old/legacy.c is badly
        # formatted, but this commit only adds a clean function to it.
        n += 1
        name = 'untouched badly formatted lines are not judged'
        if not have_cf:
            print('ok %d - %s # SKIP clang-format is not installed'
                  % (n, name))
        else:
            rev = repo.commit_msg(message('old: add a clean function'),
                                  {'old/legacy.c': BAD_C + '\n' + GOOD_C})
            rc, out = run_checkpatch(repo, rev)
            good = rc == 0
            failed += not good
            print('%s %d - %s' % ('ok' if good else 'not ok', n, name))
            if not good:
                for line in out.splitlines():
                    print('#   ' + line)
        # A range reports every bad commit in it, and fails.
        n += 1
        rc, out = run_checkpatch(repo, 'HEAD~4..HEAD', '--no-clang-format')
        good = rc == 1 and out.count('ERROR:') >= 2 and \
            'trailing whitespace' in out and 'Signed-off-by' in out
        failed += not good
        print('%s %d - a range reports every bad commit' %
              ('ok' if good else 'not ok', n))
        if not good:
            for line in out.splitlines():
                print('#   ' + line)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
