#!/usr/bin/env bash
# Builds the aifactory-agent .deb and .rpm from the native-AOT publish output.
#
#   packaging/build.sh [--version V] [--publish-dir DIR] [--out DIR] [--only deb|rpm] [RID]
#
#   RID            runtime identifier of the publish (default linux-x64; linux-arm64 maps to arm64/aarch64,
#                  but this project's registry copy has no arm64 AOT packs, so only linux-x64 is built here)
#   --version V    package version (default: the VERSION file at the repository root, the one version source)
#   --publish-dir  where tools/publish-aot.sh put the binaries (default artifacts/publish/<RID>)
#   --out DIR      where the packages go (default artifacts/packages)
#
# Output: DIR/aifactory-agent_<V>_<arch>.deb and DIR/aifactory-agent-<V>-1.<arch>.rpm. Every file shipped comes
# from packaging/common (shared by both formats), packaging/deb or packaging/rpm, and the publish folder.
# Needs dpkg-dev, rpm, chrpath (tests/setup.d/60-packaging.sh installs them).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"

rid=linux-x64
version=
publish=
out=$root/artifacts/packages
only=
while [ $# -gt 0 ]; do
  case $1 in
    --version) version=$2; shift 2 ;;
    --publish-dir) publish=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    -*) echo "build.sh: unknown option $1" >&2; exit 2 ;;
    *) rid=$1; shift ;;
  esac
done
version=${version:-$(tr -d '[:space:]' < VERSION)}
publish=${publish:-$root/artifacts/publish/$rid}
case $version in
  [0-9]*) ;;
  *) echo "build.sh: version \"$version\" must start with a digit" >&2; exit 2 ;;
esac
case $version in *[!0-9A-Za-z.+~]*) echo "build.sh: version \"$version\" may hold only digits, letters and . + ~" >&2; exit 2 ;; esac
case $rid in
  linux-x64) deb_arch=amd64; rpm_arch=x86_64 ;;
  linux-arm64) deb_arch=arm64; rpm_arch=aarch64 ;;
  *) echo "build.sh: unsupported runtime identifier $rid (linux-x64 or linux-arm64)" >&2; exit 2 ;;
esac
for binary in aifactory-agent aifactoryctl; do
  if [ ! -x "$publish/$binary" ]; then
    echo "build.sh: $publish/$binary is missing: run tools/publish-aot.sh $rid first" >&2
    exit 1
  fi
done
if [ "$(head -c 4 "$publish/aifactory-agent" | tail -c 3)" != ELF ]; then
  echo "build.sh: $publish/aifactory-agent is not an ELF executable (a native-AOT publish is needed)" >&2
  exit 1
fi

# Reproducible timestamps: the last commit's date (or the VERSION file's), never "now".
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || stat -c %Y VERSION)}
export SOURCE_DATE_EPOCH
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
date_rfc2822=$(LC_ALL=C date -u -R -d "@$SOURCE_DATE_EPOCH")
date_rpm=$(LC_ALL=C date -u -d "@$SOURCE_DATE_EPOCH" '+%a %b %d %Y')
maintainer="AiFactory Agent developers <aifactory-agent@lists.aifactory.dev>"
summary="AiFactory node agent for GPU servers"

work=$(mktemp -d "${TMPDIR:-/tmp}/aifactory-pkg.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

# The one file tree both packages ship. $1: staging root; $2: /lib or /usr/lib for systemd and udev files
# (Debian 12 still installs units under /lib; Fedora and EL under /usr/lib).
stage() {
  local r=$1 syslib=$2
  install -d -m 0755 "$r/usr/lib/aifactory-agent" "$r/usr/sbin" "$r/usr/bin"
  # The binaries live together with any native library the publish put beside them (NativeLibrary probes the
  # executable's own folder); /usr/sbin and /usr/bin get symbolic links.
  install -m 0755 "$publish/aifactory-agent" "$publish/aifactoryctl" "$r/usr/lib/aifactory-agent/"
  for so in "$publish"/*.so; do
    [ -e "$so" ] && install -m 0644 "$so" "$r/usr/lib/aifactory-agent/"
  done
  # The AOT link adds RUNPATH $ORIGIN (ILCompiler's IlcRPath has no off switch): a packaged binary in a
  # system folder must not search its own folder through the dynamic loader, so it is deleted here.
  for f in "$r"/usr/lib/aifactory-agent/*; do
    if readelf -d "$f" 2>/dev/null | grep -q 'R\(UN\)\?PATH'; then chrpath -d "$f" >/dev/null; fi
  done
  ln -s ../lib/aifactory-agent/aifactory-agent "$r/usr/sbin/aifactory-agent"
  ln -s ../lib/aifactory-agent/aifactoryctl "$r/usr/bin/aifactoryctl"

  install -D -m 0644 packaging/common/aifactory-agent.service "$r$syslib/systemd/system/aifactory-agent.service"
  install -D -m 0644 packaging/common/aifactory-ready.target "$r$syslib/systemd/system/aifactory-ready.target"
  install -D -m 0644 packaging/common/61-aifactory-vfio-overrides.rules "$r$syslib/udev/rules.d/61-aifactory-vfio-overrides.rules"
  install -D -m 0644 packaging/common/aifactory-vfio.conf "$r/usr/lib/modules-load.d/aifactory-vfio.conf"
  install -D -m 0644 packaging/common/agent.yaml "$r/etc/aifactory/agent.yaml"
  install -D -m 0644 packaging/common/node-profile.example.yaml "$r/etc/aifactory/node-profile.example.yaml"
  install -d -m 0755 "$r/etc/aifactory/vfio-overrides.d"
  install -D -m 0644 packaging/common/aifactoryctl.bash-completion "$r/usr/share/bash-completion/completions/aifactoryctl"

  install -d -m 0755 "$r/usr/share/man/man8" "$r/usr/share/man/man1"
  "$here/common/manpage.sh" "$publish/aifactory-agent" 8 "$version" "$SOURCE_DATE_EPOCH" \
    | gzip -9n > "$r/usr/share/man/man8/aifactory-agent.8.gz"
  "$here/common/manpage.sh" "$publish/aifactoryctl" 1 "$version" "$SOURCE_DATE_EPOCH" \
    | gzip -9n > "$r/usr/share/man/man1/aifactoryctl.1.gz"
  chmod 0644 "$r"/usr/share/man/man*/*.gz
}

build_deb() {
  local r=$work/deb
  stage "$r" /lib
  install -d -m 0755 "$r/usr/share/doc/aifactory-agent" "$r/usr/share/lintian/overrides" "$r/DEBIAN"
  install -m 0644 packaging/deb/copyright "$r/usr/share/doc/aifactory-agent/copyright"
  install -m 0644 packaging/deb/lintian-overrides "$r/usr/share/lintian/overrides/aifactory-agent"
  # A native package: changelog.gz in Debian format, one entry per build, from the one version source.
  {
    printf 'aifactory-agent (%s) stable; urgency=medium\n\n' "$version"
    printf '  * Release %s, built from commit %s for %s.\n' "$version" "$commit" "$rid"
    printf '    See CHANGELOG.md in the source for the changes.\n\n'
    printf ' -- %s  %s\n' "$maintainer" "$date_rfc2822"
  } | gzip -9n > "$r/usr/share/doc/aifactory-agent/changelog.gz"
  # The project's own changelog, next to the Debian one (compressed, as Debian policy asks of docs over 4 kB).
  gzip -9n < CHANGELOG.md > "$r/usr/share/doc/aifactory-agent/CHANGELOG.md.gz"
  chmod 0644 "$r/usr/share/doc/aifactory-agent/changelog.gz" "$r/usr/share/doc/aifactory-agent/CHANGELOG.md.gz"

  # Depends: what the ELF files need, from dpkg-shlibdeps (libc6 only, today).
  local shlibs
  mkdir -p "$work/shlibdeps/debian"
  printf 'Source: aifactory-agent\n\nPackage: aifactory-agent\nArchitecture: any\n' > "$work/shlibdeps/debian/control"
  shlibs=$(cd "$work/shlibdeps" && dpkg-shlibdeps -O -e"$r/usr/lib/aifactory-agent/aifactory-agent" \
    -e"$r/usr/lib/aifactory-agent/aifactoryctl" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
  local size
  size=$(du -k -s --apparent-size --exclude=DEBIAN "$r" | cut -f1)
  sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$deb_arch|" -e "s|@MAINTAINER@|$maintainer|" \
      -e "s|@DEPENDS@|$shlibs|" -e "s|@SIZE@|$size|" packaging/deb/control.in > "$r/DEBIAN/control"
  (cd "$r" && find etc -type f | sed 's|^|/|' | sort) > "$r/DEBIAN/conffiles"
  for s in postinst prerm postrm; do install -m 0755 "packaging/deb/$s" "$r/DEBIAN/$s"; done
  (cd "$r" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) > "$r/DEBIAN/md5sums"
  chmod 0644 "$r/DEBIAN/control" "$r/DEBIAN/conffiles" "$r/DEBIAN/md5sums"
  local deb=$out/aifactory-agent_${version}_${deb_arch}.deb
  dpkg-deb --root-owner-group -Zxz --build "$r" "$deb" >/dev/null
  echo "$deb"
}

build_rpm() {
  local r=$work/rpm/stage top=$work/rpm/top
  stage "$r" /usr/lib
  mkdir -p "$top"/{BUILD,RPMS,SOURCES,SPECS,SRPMS,BUILDROOT}
  install -m 0644 LICENSE "$top/SOURCES/LICENSE"
  install -m 0644 CHANGELOG.md "$top/SOURCES/CHANGELOG.md"
  sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$rpm_arch|" -e "s|@SUMMARY@|$summary|" \
      -e "s|@COMMIT@|$commit|" -e "s|@DATE@|$date_rpm|" -e "s|@MAINTAINER@|$maintainer|" -e "s|@RID@|$rid|" \
      packaging/rpm/aifactory-agent.spec.in > "$top/SPECS/aifactory-agent.spec"
  rpmbuild -bb --quiet --target "$rpm_arch" \
    --define "_topdir $top" --define "aifactory_stage $r" \
    --define "use_source_date_epoch_as_buildtime 1" --define "clamp_mtime_to_source_date_epoch 1" \
    --define "_buildhost aifactory-build" \
    "$top/SPECS/aifactory-agent.spec" >/dev/null
  local rpm=$out/aifactory-agent-${version}-1.${rpm_arch}.rpm
  cp "$top/RPMS/$rpm_arch/aifactory-agent-${version}-1.${rpm_arch}.rpm" "$rpm"
  echo "$rpm"
}

[ "$only" = rpm ] || build_deb
[ "$only" = deb ] || build_rpm
