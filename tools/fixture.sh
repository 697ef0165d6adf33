#!/usr/bin/env bash
# Hardware fixtures: text archives of real-layout /sys and /proc trees (hardware-fixtures/<name>.ttar).
#
#   tools/fixture.sh list                 the fixture names
#   tools/fixture.sh unpack NAME DEST     unpack hardware-fixtures/NAME.ttar (or a path to a .ttar) into DEST/sys, DEST/proc
#   tools/fixture.sh pack SRC FILE        pack the directory SRC (holding sys/ and proc/) into FILE
#   tools/fixture.sh generate             regenerate every archive from hardware-fixtures/generate/generate.py
#
# The format follows prometheus/procfs' ttar (Directory:/Path:/Lines:/SymlinkTo:/Mode: records separated by
# "# ttar - - -" lines; "NULLBYTE" for a zero byte, "EOF" ending a last line that has no newline) and adds one
# record kind, "Hex: N" (N lines of hex), for binary files such as PCI config space. The C# twin of this code
# is agent/AiFactory.Host.Hardware/Fixtures/TextArchive.cs; both must accept each other's output.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cmd=${1:-}
case "$cmd" in
  list)
    for f in "$here"/hardware-fixtures/*.ttar; do [ -e "$f" ] && basename "$f" .ttar; done
    ;;
  unpack)
    [ $# -eq 3 ] || { echo "usage: tools/fixture.sh unpack NAME DEST" >&2; exit 64; }
    src=$2
    [ -f "$src" ] || src=$here/hardware-fixtures/$2.ttar
    [ -f "$src" ] || { echo "tools/fixture.sh: no fixture \"$2\" (try: tools/fixture.sh list)" >&2; exit 66; }
    rm -rf "$3/sys" "$3/proc"
    mkdir -p "$3"
    python3 - "$src" "$3" <<'PY'
import errno, os, stat, sys
src, dest = sys.argv[1], os.path.realpath(sys.argv[2])
SEP = "# ttar - "

# Nothing is ever written, created or removed through a symbolic link: each entry's parent is walked from a
# descriptor of DEST one component at a time with O_NOFOLLOW (an archive that made sys/d a link to .. and then
# wrote sys/d/e/x would otherwise write outside DEST), and files are created with O_NOFOLLOW in that parent.
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
root_fd = os.open(dest, DIR_FLAGS)

def refuse(rel, why):
    sys.exit(f"tools/fixture.sh: refusing {rel!r} in {src}: {why}")

def safe(rel):
    if rel.startswith("/") or any(p in ("..", ".", "") for p in rel.split("/")):
        refuse(rel, "it leaves the tree")
    return rel

def open_dir(rel, parts):
    """A descriptor of DEST/parts..., creating missing directories; refuses a component that is a link or a file."""
    fd = os.dup(root_fd)
    for i, part in enumerate(parts):
        try:
            nfd = os.open(part, DIR_FLAGS, dir_fd=fd)
        except FileNotFoundError:
            os.mkdir(part, 0o755, dir_fd=fd)
            nfd = os.open(part, DIR_FLAGS, dir_fd=fd)
        except OSError as e:
            if e.errno not in (errno.ELOOP, errno.ENOTDIR):
                raise
            link = stat.S_ISLNK(os.stat(part, dir_fd=fd, follow_symlinks=False).st_mode)
            refuse(rel, f"{'/'.join(parts[:i + 1])} is {'a symlink' if link else 'not a directory'}; nothing is written through a link")
        os.close(fd)
        fd = nfd
    return fd

_cached = (None, -1)

def parent_fd(rel, parents):
    """open_dir for the parent of an entry; entries come in runs per directory, so the last one is kept open."""
    global _cached
    key = tuple(parents)
    if _cached[0] != key:
        fd = open_dir(rel, parents)
        if _cached[1] >= 0:
            os.close(_cached[1])
        _cached = (key, fd)
    return _cached[1]

def decode_lines(lines):
    out = bytearray()
    for i, line in enumerate(lines):
        last = i == len(lines) - 1
        text = line
        nl = True
        if last and text.endswith("EOF"):
            text, nl = text[:-3], False
        out += text.replace("NULLBYTE", "\0").encode("utf-8")
        if nl:
            out += b"\n"
    return bytes(out)

with open(src, encoding="utf-8") as f:
    lines = f.read().split("\n")
i, n = 0, len(lines)
modes = []
while i < n:
    line = lines[i]
    if line.startswith("#") or line == "":
        i += 1
        continue
    if line.startswith("Directory: "):
        rel = safe(line[11:])
        os.close(open_dir(rel, rel.split("/")))
        i += 1
        if i < n and lines[i].startswith("Mode: "):
            modes.append((rel, int(lines[i][6:], 8)))
            i += 1
        continue
    if line.startswith("Path: "):
        rel = safe(line[6:])
        *parents, name = rel.split("/")
        kind = lines[i + 1]
        i += 2
        if kind.startswith("SymlinkTo: "):
            target = kind[11:]
            resolved = os.path.normpath(os.path.join(dest, *parents, target))
            if target.startswith("/") or not (resolved + "/").startswith(dest + "/"):
                sys.exit(f"tools/fixture.sh: refusing symlink {rel} -> {target}: it leaves the tree")
            fd = parent_fd(rel, parents)
            try:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                st = None
            if st is not None:
                if stat.S_ISDIR(st.st_mode):
                    refuse(rel, "a directory is in the way of the link")
                os.unlink(name, dir_fd=fd)
            os.symlink(target, name, dir_fd=fd)
            continue
        if kind.startswith("Lines: "):
            count = int(kind[7:])
            data = decode_lines(lines[i:i + count])
        elif kind.startswith("Hex: "):
            count = int(kind[5:])
            data = bytes.fromhex("".join(lines[i:i + count]))
        else:
            sys.exit(f"tools/fixture.sh: {src}:{i}: expected Lines:, Hex: or SymlinkTo: after Path: {rel}")
        i += count
        mode = 0o644
        if i < n and lines[i].startswith("Mode: "):
            mode = int(lines[i][6:], 8)
            i += 1
        fd = parent_fd(rel, parents)
        try:
            out = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o600, dir_fd=fd)
        except OSError as e:
            if e.errno == errno.ELOOP:
                refuse(rel, "it is a symlink; nothing is written through a link")
            raise
        try:
            if not stat.S_ISREG(os.fstat(out).st_mode):
                refuse(rel, "it is not a regular file")
            view = memoryview(data)
            while view:
                view = view[os.write(out, view):]
            os.fchmod(out, mode)
        finally:
            os.close(out)
        continue
    sys.exit(f"tools/fixture.sh: {src}:{i + 1}: unexpected line {line[:60]!r}")
# Directory modes last (a read-only directory would stop its own entries), innermost first, again without links.
for rel, mode in reversed(modes):
    fd = open_dir(rel, rel.split("/"))
    os.fchmod(fd, mode | 0o700)
    os.close(fd)
PY
    ;;
  pack)
    [ $# -eq 3 ] || { echo "usage: tools/fixture.sh pack SRC FILE" >&2; exit 64; }
    python3 - "$2" "$3" <<'PY'
import os, sys, stat
src, out = sys.argv[1], sys.argv[2]
SEP = "# ttar - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -"
recs = [f"# Archive created by tools/fixture.sh pack; unpack with: tools/fixture.sh unpack {os.path.basename(out)} DEST"]
def printable(data):
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return None if any((ord(c) < 32 and c not in "\n\t\0") or ord(c) == 127 for c in text) else text
def walk(rel):
    full = os.path.join(src, rel)
    st = os.lstat(full)
    if stat.S_ISLNK(st.st_mode):
        recs.append(f"Path: {rel}\nSymlinkTo: {os.readlink(full)}\n{SEP}")
    elif stat.S_ISDIR(st.st_mode):
        recs.append(f"Directory: {rel}\nMode: {stat.S_IMODE(st.st_mode):o}\n{SEP}")
        for name in sorted(os.listdir(full)):
            walk(f"{rel}/{name}")
    elif stat.S_ISREG(st.st_mode):
        with open(full, "rb") as f:
            data = f.read()
        text = printable(data)
        if text is None:
            h = data.hex()
            body = [h[j:j + 64] for j in range(0, len(h), 64)]
            recs.append(f"Path: {rel}\nHex: {len(body)}\n" + "".join(b + "\n" for b in body) + f"Mode: {stat.S_IMODE(st.st_mode):o}\n{SEP}")
        else:
            text = text.replace("\0", "NULLBYTE")
            body = text.split("\n")
            if body[-1] == "":
                body = body[:-1]
            elif body:
                body[-1] += "EOF"
            recs.append(f"Path: {rel}\nLines: {len(body)}\n" + "".join(b + "\n" for b in body) + f"Mode: {stat.S_IMODE(st.st_mode):o}\n{SEP}")
for top in ("sys", "proc"):
    if os.path.isdir(os.path.join(src, top)):
        walk(top)
with open(out, "w", encoding="utf-8") as f:
    f.write("\n".join(recs) + "\n")
PY
    ;;
  generate)
    python3 "$here/hardware-fixtures/generate/generate.py" "$here/hardware-fixtures"
    ;;
  *)
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 64
    ;;
esac
