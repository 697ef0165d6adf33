#!/usr/bin/env bash
# Writes a man page (roff) for an AOT binary to stdout: the hand-written text of packaging/common/<name>.<section>.in
# with @OPTIONS@ replaced by the binary's own --help (and, for a CLI, every command's --help), so the options
# listed can never drift from the binary.
#
#   manpage.sh BINARY SECTION VERSION SOURCE_DATE_EPOCH
set -euo pipefail
binary=$1 section=$2 version=$3 epoch=$4
name=$(basename "$binary")
template=$(dirname "$0")/$name.$section.in
date=$(LC_ALL=C date -u -d "@$epoch" +%Y-%m-%d)

# roff-safe: a backslash becomes \e, and a line starting with . or ' is protected with \&.
roff() { sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"; }

help_block() {
  local title=$1; shift
  printf '.SS %s\n.nf\n' "$title"
  "$binary" "$@" --help | roff
  printf '.fi\n'
}

options() {
  help_block "$name" 
  # Commands listed under "Commands:" in the help, each with its own options (one level, then their children).
  local commands
  commands=$("$binary" --help | awk '/^Commands:/{c=1;next} c&&/^  [a-z]/{print $1} c&&/^$/{c=0}')
  for c in $commands; do
    help_block "$name $c" "$c"
    local sub
    sub=$("$binary" "$c" --help | awk '/^Commands:/{c=1;next} c&&/^  [a-z]/{print $1} c&&/^$/{c=0}')
    for s in $sub; do help_block "$name $c $s" "$c" "$s"; done
  done
}

opts=$(options)
while IFS= read -r line; do
  case $line in
    @OPTIONS@) printf '%s\n' "$opts" ;;
    *) printf '%s\n' "$line" | sed -e "s/@VERSION@/$version/g" -e "s/@DATE@/$date/g" ;;
  esac
done < "$template"
