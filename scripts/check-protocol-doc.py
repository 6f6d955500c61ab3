#!/usr/bin/env python3
# Check that the layout tables of docs/interop/vfio-user.rst match
# include/vfio-user/protocol.h.
#
# Usage: check-protocol-doc.py [SOURCE_ROOT]
#
# Every packed struct of protocol.h must be documented by a list-table that
# directly follows a comment ".. struct: NAME" in the document, whose rows
# start with the columns Offset, Size and Field.  The script computes each
# field's offset and size from the header (fixed-width integer types, the
# header's own structs, arrays sized by a number or a #define, and flexible
# array members, documented with the size "variable") and reports every row
# that differs, every field missing from a table, and every struct without a
# table.  Exit status 1 on any difference.
#
# It also checks the conformance table, the list-table after a comment
# ".. conformance-table": every command of protocol.h's enum and every
# capability key util/caps.c parses or sends must have a row (first column),
# and each row's last column must start with one of the STATUSES.
#
# Copyright (c) 2026 vfio-user-client developers
# SPDX-License-Identifier: GPL-2.0-or-later

import os
import re
import sys

BASIC = {'uint8_t': 1, 'int8_t': 1, 'char': 1, 'uint16_t': 2, 'int16_t': 2,
         'uint32_t': 4, 'int32_t': 4, 'uint64_t': 8, 'int64_t': 8}
STRUCT_RE = re.compile(r'typedef struct VFIO_USER_PACKED (\w+) \{(.*?)\} (\w+);',
                       re.S)
MEMBER_RE = re.compile(r'^(\w+)\s+(\w+)(?:\[(\w*)\])?$')
DEFINE_RE = re.compile(r'^#define (\w+) \(?(\d+)u?\)?', re.M)


def parse_header(path):
    """{struct: [(offset, size, field), ...]} in declaration order."""
    with open(path, encoding='utf-8') as f:
        text = f.read()
    defines = {m.group(1): int(m.group(2)) for m in DEFINE_RE.finditer(text)}
    sizes, layouts = dict(BASIC), {}
    for m in STRUCT_RE.finditer(text):
        name, body, alias = m.groups()
        if name != alias:
            raise ValueError('%s: typedef name %s differs' % (name, alias))
        body = re.sub(r'/\*.*?\*/', '', body, flags=re.S)
        offset, rows = 0, []
        for decl in body.split(';'):
            decl = ' '.join(decl.split())
            if not decl:
                continue
            mm = MEMBER_RE.match(decl)
            if not mm or mm.group(1) not in sizes:
                raise ValueError('%s: cannot size member "%s"' % (name, decl))
            ctype, field, count = mm.groups()
            if count is None:
                size = sizes[ctype]
            elif count == '':
                rows.append((str(offset), 'variable', field))
                continue
            else:
                n = int(count) if count.isdigit() else defines[count]
                size = sizes[ctype] * n
            rows.append((str(offset), str(size), field))
            offset += size
        sizes[name] = offset
        layouts[name] = rows
    return layouts


def cell(text):
    return text.strip().strip('`').strip()


def parse_doc(path):
    """{struct: (lineno, [(offset, size, field), ...])} from the tables."""
    with open(path, encoding='utf-8') as f:
        lines = f.read().split('\n')
    tables, i = {}, 0
    while i < len(lines):
        m = re.match(r'^\.\. struct: (\w+)\s*$', lines[i])
        if not m:
            i += 1
            continue
        name, start = m.group(1), i + 1
        i += 1
        while i < len(lines) and not lines[i].startswith('.. list-table::'):
            if lines[i].strip():
                raise ValueError('%s:%d: ".. struct: %s" is not followed by '
                                 'a list-table' % (path, start, name))
            i += 1
        rows, row = [], None
        i += 1
        while i < len(lines) and (not lines[i].strip() or
                                  lines[i].startswith(' ')):
            line = lines[i]
            if re.match(r'^\s+\* - ', line):
                row = [line.split('* - ', 1)[1]]
                rows.append(row)
            elif re.match(r'^\s+- ', line) and row is not None:
                row.append(line.split('- ', 1)[1])
            i += 1
        body = [tuple(cell(c) for c in r[:3]) for r in rows[1:]]
        tables[name] = (start, body)
    return tables


STATUSES = ('as specified', 'extension', 'differs', 'not implemented',
            'not in the specification')
COMMAND_RE = re.compile(r'^\s*(VFIO_USER_\w+) = \d+,', re.M)
CAP_KEY_RES = (re.compile(r'get_(?:uint|bool)\(c, "([^"]+)"'),
               re.compile(r'set_member_name\(b, "([^"]+)"\)'))
CAP_DEFINE_RE = re.compile(r'^#define VFIO_USER_CAPS_\w+ "([^"]+)"', re.M)


def read(path):
    with open(path, encoding='utf-8') as f:
        return f.read()


def wanted_rows(root):
    """Commands of protocol.h and capability keys of util/caps.c."""
    header = read(os.path.join(root, 'include', 'vfio-user', 'protocol.h'))
    names = [n for n in COMMAND_RE.findall(header)
             if n != 'VFIO_USER_MAX_COMMAND']
    caps_c = read(os.path.join(root, 'util', 'caps.c'))
    caps_h = read(os.path.join(root, 'include', 'vfio-user', 'caps.h'))
    keys = set(CAP_DEFINE_RE.findall(caps_h))
    for r in CAP_KEY_RES:
        keys.update(k for k in r.findall(caps_c) if k != 'capabilities')
    return names + sorted(keys)


def parse_conformance(path):
    """(lineno, [[cells]]) of the conformance table, or None."""
    lines = read(path).split('\n')
    for i, line in enumerate(lines):
        if line.strip() == '.. conformance-table':
            break
    else:
        return None
    start, rows, row = i + 1, [], None
    i += 1
    while i < len(lines) and not lines[i].startswith('.. list-table::'):
        i += 1
    i += 1
    while i < len(lines) and (not lines[i].strip() or
                              lines[i].startswith(' ')):
        line = lines[i]
        if re.match(r'^\s+\* - ', line):
            row = [line.split('* - ', 1)[1]]
            rows.append(row)
        elif re.match(r'^\s+- ', line) and row is not None:
            row.append(line.split('- ', 1)[1])
        elif row is not None and line.strip():
            row[-1] += ' ' + line.strip()
        i += 1
    return start, rows[1:]


def check_conformance(root, doc):
    table = parse_conformance(doc)
    if table is None:
        return ['%s: no ".. conformance-table" list-table' % doc]
    lineno, rows = table
    problems = []
    items = {cell(r[0]) for r in rows}
    for name in wanted_rows(root):
        if name not in items:
            problems.append('%s:%d: conformance table has no row for %s'
                            % (doc, lineno, name))
    for r in rows:
        status = r[-1].strip().lower()
        if len(r) != 4 or not status.startswith(STATUSES):
            problems.append('%s:%d: conformance row %s: status "%s" is not '
                            'one of %s' % (doc, lineno, cell(r[0]),
                                           r[-1].strip(), ', '.join(STATUSES)))
    return problems


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else \
        os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
    header = os.path.join(root, 'include', 'vfio-user', 'protocol.h')
    doc = os.path.join(root, 'docs', 'interop', 'vfio-user.rst')
    try:
        layouts = parse_header(header)
        tables = parse_doc(doc)
    except (OSError, ValueError, KeyError) as e:
        print('check-protocol-doc: %s' % e)
        return 1
    problems = []
    for name, rows in layouts.items():
        if name not in tables:
            problems.append('%s: no ".. struct: %s" table in %s'
                            % (name, name, doc))
            continue
        lineno, documented = tables[name]
        for want, got in zip(rows, documented):
            if want != got:
                problems.append('%s:%d: %s: table row (offset %s, size %s, '
                                '%s) but protocol.h has (offset %s, size %s, '
                                '%s)' % (doc, lineno, name, *got, *want))
        for want in rows[len(documented):]:
            problems.append('%s:%d: %s: field %s (offset %s, size %s) '
                            'missing from the table'
                            % (doc, lineno, name, want[2], want[0], want[1]))
        for got in documented[len(rows):]:
            problems.append('%s:%d: %s: table row %s is not in protocol.h'
                            % (doc, lineno, name, got[2]))
    for name, (lineno, _) in tables.items():
        if name not in layouts:
            problems.append('%s:%d: struct %s is not in protocol.h'
                            % (doc, lineno, name))
    problems += check_conformance(root, doc)
    for p in problems:
        print('error: ' + p)
    if problems:
        return 1
    print('check-protocol-doc: %d structs match protocol.h, the '
          'conformance table covers %d commands and capabilities'
          % (len(layouts), len(wanted_rows(root))))
    return 0


if __name__ == '__main__':
    sys.exit(main())
