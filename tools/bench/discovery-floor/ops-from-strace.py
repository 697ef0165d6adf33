#!/usr/bin/env python3
"""The file operations one `aifactory-agent discover` made inside a tree, from `strace -f -y`, as a list to replay.

  ops-from-strace.py STRACE_FILE TREE_ROOT > ops.txt

One line per operation, in the order strace saw them (threads interleaved), with the absolute path:
  R path   an attribute opened for reading (then read and closed)
  F path   an open that failed (absent attribute)
  P path   an O_PATH open (the root's descriptor, a link's landing place checked)
  D path   a directory opened (for a descriptor or a listing)
  L path   a link read (readlinkat)
Operations outside TREE_ROOT (the loader, /proc/self, the runtime) are left out.
"""
import os
import re
import sys
from collections import Counter

OPEN = re.compile(r'openat2?\(\w+(?:<([^>]*)>)?, "([^"]*)",.*\)\s*= (-?\d+)')
READLINK = re.compile(r'readlinkat\(\d+<([^>]*)>, "([^"]*)"')


def calls(lines):
    """Each system call on one line: strace splits a call another thread interrupted into unfinished/resumed."""
    pending = {}
    for line in lines:
        pid, _, rest = line.partition(' ')
        rest = rest.lstrip()  # strace pads the pid column ("5302  openat2(...)")
        if rest.endswith('<unfinished ...>'):
            pending[pid] = rest[:-len('<unfinished ...>')]
            continue
        resumed = re.match(r'<\.\.\. \w+ resumed>(.*)', rest)
        yield pending.pop(pid, '') + resumed.group(1) if resumed else rest


def main():
    strace_file, root = sys.argv[1], os.path.normpath(sys.argv[2])
    ops = []
    with open(strace_file) as f:
        for call in calls(f.read().splitlines()):
            if m := OPEN.match(call):
                path = os.path.normpath(os.path.join(m.group(1) or '/', m.group(2)))
                if not path.startswith(root + '/') and path != root:
                    continue
                failed = int(m.group(3)) < 0
                kind = 'F' if failed else 'P' if 'O_PATH' in call else 'D' if 'O_DIRECTORY' in call else 'R'
                ops.append((kind, path))
            elif (m := READLINK.match(call)) and m.group(1).startswith(root):
                ops.append(('L', os.path.join(m.group(1), m.group(2))))
    for kind, path in ops:
        print(kind, path)
    print(' '.join(f'{k}={n}' for k, n in sorted(Counter(k for k, _ in ops).items())), file=sys.stderr)


main()
