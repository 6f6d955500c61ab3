#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Check the trace catalog (trace-events) against the sources.

- every trace point of the catalog is called in the sources (tests and
  benchmarks do not count), and every trace_NAME() called is in it;
- a point is called only from files whose log domain is the point's
  domain, and every C file of a module has a log domain that the
  catalog lists (a "#define G_LOG_DOMAIN" in the file, or the
  -DG_LOG_DOMAIN of the meson.build that compiles it);
- no module logs with g_debug() or g_info(): trace points replace them.

Usage: check-trace.py SOURCE_ROOT
       check-trace.py --self-test
"""
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tracetool  # noqa: E402

MODULE_DIRS = ('util', 'server', 'hw', 'system', 'contrib')
NOT_COUNTED = ('tests', 'bench')
# Directories whose files are compiled by another directory's meson.build.
COMPILED_BY = {'hw/pci': 'system'}
CALL = re.compile(r'\btrace_([a-z0-9_]+?)(_enabled|_nocheck)?\s*\(')
DEFINE = re.compile(r'^#define G_LOG_DOMAIN "([^"]+)"', re.M)
MESON = re.compile(r'-DG_LOG_DOMAIN="([^"]+)"')
PLAIN = re.compile(r'\bg_(debug|info)\s*\(')
COMMENT = re.compile(r'//[^\n]*|/\*.*?\*/', re.S)


def c_files(root, dirs):
    for top in dirs:
        for base, subdirs, files in os.walk(os.path.join(root, top)):
            subdirs[:] = sorted(d for d in subdirs if not d.startswith('.'))
            for f in sorted(files):
                if f.endswith(('.c', '.h')):
                    yield os.path.join(base, f)


def meson_domain(root, rel_dir):
    rel_dir = COMPILED_BY.get(rel_dir, rel_dir)
    path = os.path.join(root, rel_dir, 'meson.build')
    if not os.path.exists(path):
        return None
    with open(path) as f:
        found = set(MESON.findall(f.read()))
    return found.pop() if len(found) == 1 else None


def file_domain(root, path, text):
    defs = DEFINE.findall(text)
    if defs:
        return defs[-1]
    return meson_domain(root, os.path.dirname(os.path.relpath(path, root)))


def check(root):
    with open(os.path.join(root, 'trace-events')) as f:
        catalog = tracetool.parse(f.read().splitlines(),
                                  os.path.join(root, 'trace-events'))
    domain_of = {p[0]: d for d, _, ps in catalog for p in ps}
    domains = {d for d, _, _ in catalog}
    errors, used = [], set()
    for path in c_files(root, MODULE_DIRS + NOT_COUNTED):
        rel = os.path.relpath(path, root)
        with open(path) as f:
            text = COMMENT.sub('', f.read())
        module = not rel.startswith(NOT_COUNTED)
        dom = file_domain(root, path, text) if module else None
        if module and path.endswith('.c'):
            if dom is None:
                errors.append('%s: no log domain' % rel)
            elif dom not in domains:
                errors.append('%s: log domain %s is not in trace-events'
                              % (rel, dom))
            for m in PLAIN.finditer(text):
                errors.append('%s:%d: g_%s(): use a trace point'
                              % (rel, text.count('\n', 0, m.start()) + 1,
                                 m.group(1)))
        for m in CALL.finditer(text):
            name, line = m.group(1), text.count('\n', 0, m.start()) + 1
            if name not in domain_of:
                errors.append('%s:%d: trace_%s() is not in trace-events'
                              % (rel, line, name))
                continue
            if not module:
                continue
            used.add(name)
            if dom and domain_of[name] != dom:
                errors.append('%s:%d: trace_%s() belongs to %s, the file '
                              'logs in %s' % (rel, line, name,
                                              domain_of[name], dom))
    for name in sorted(set(domain_of) - used):
        errors.append('trace-events: %s is never called' % name)
    return errors


def self_test():
    files = {
        'trace-events': 'domain d-one "h"\nok_point(int a) "%d"\n'
                        'unused_point(void) "x"\n'
                        'other_point(void) "y"\ndomain d-two "h"\n',
        'util/meson.build': "c_args: ['-DG_LOG_DOMAIN=\"d-one\"']\n",
        'util/a.c': 'void f(void) { trace_ok_point(1); }\n'
                    '/* trace_commented_out() */\n',
        'util/b.c': '#define G_LOG_DOMAIN "d-two"\n'
                    'void g(void) { trace_other_point(); g_debug("x"); }\n',
        'system/c.c': 'void h(void) { trace_missing(); }\n',
        'tests/t.c': 'void t(void) { trace_unused_point(); }\n',
    }
    with tempfile.TemporaryDirectory() as root:
        for rel, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(root, rel)) or root,
                        exist_ok=True)
            with open(os.path.join(root, rel), 'w') as f:
                f.write(text)
        errors = check(root)
    want = ['system/c.c: no log domain',
            'system/c.c:1: trace_missing() is not in trace-events',
            'util/b.c:2: g_debug(): use a trace point',
            'util/b.c:2: trace_other_point() belongs to d-one, the file '
            'logs in d-two',
            'trace-events: unused_point is never called']
    assert sorted(errors) == sorted(want), errors
    print('check-trace self-test: ok')
    return 0


def main(argv):
    if argv == ['--self-test']:
        return self_test()
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[-2].split(': ', 1)[1])
        return 2
    errors = check(argv[0])
    for e in errors:
        print(e)
    if errors:
        print('check-trace: %d problem(s); see docs/devel/tracing.rst'
              % len(errors))
        return 1
    print('check-trace: every trace point is called and listed')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
