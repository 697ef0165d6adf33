#!/usr/bin/env bash
# Publishes aifactory-agent and aifactoryctl as native-AOT executables.
#
#   tools/publish-aot.sh [RID]        RID defaults to linux-x64; output in artifacts/publish/<RID>/
#
# Product code targets net10.0. Native AOT for net10.0 needs the Microsoft.NETCore.App.Runtime.NativeAOT.<RID>
# pack; where the package source lacks it (this project's registry copy does), the same code is published as
# native AOT for net9.0 (ILCompiler 9.0.x), and this script says so loudly. BUILD-INFO in the output folder
# records which one was built.
set -euo pipefail
cd "$(dirname "$0")/.."
rid=${1:-linux-x64}
out=artifacts/publish/$rid
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
tfm=net10.0
# Probe with a throw-away project outside the tree: restoring the real projects for net10.0 + AOT would rewrite
# their obj/net10.0 restore output, which a build or test running at the same time reads.
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
cat > "$probe/probe.csproj" <<PROBE
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <TargetFramework>net10.0</TargetFramework>
    <RuntimeIdentifier>$rid</RuntimeIdentifier>
    <PublishAot>true</PublishAot>
  </PropertyGroup>
</Project>
PROBE
if ! dotnet restore "$probe/probe.csproj" >"$probe/restore.log" 2>&1; then
  cp "$probe/restore.log" /tmp/aifactory-restore-net10.log 2>/dev/null || true
  if grep -q "NU1101.*NativeAOT\|NU1101.*ILCompiler\|NU1102.*NativeAOT\|NU1102.*ILCompiler" "$probe/restore.log"; then
    tfm=net9.0
    echo "################################################################################"
    echo "## NOTE: the net10.0 NativeAOT runtime pack for $rid cannot be restored here."
    echo "##       Publishing native AOT for net9.0 instead (same code, ILCompiler 9.0.x)."
    echo "################################################################################"
  else
    cat "$probe/restore.log"
    exit 1
  fi
fi
rm -rf "$out"
mkdir -p "$out"
for project in AiFactory.Agent AiFactory.Cli; do
  dotnet publish "agent/$project/$project.csproj" -c Release -r "$rid" --nologo -v quiet \
    -p:PublishAot=true -p:AiFactoryTargetFramework=$tfm -p:SourceRevisionId="$commit" \
    -p:IncludeSourceRevisionInInformationalVersion=true -o "$out"
done
rm -f "$out"/*.dbg "$out"/*.pdb
printf 'target_framework=%s\nruntime_identifier=%s\nnative_aot=true\ncommit=%s\n' "$tfm" "$rid" "$commit" > "$out/BUILD-INFO"
echo "published native AOT ($tfm, $rid) to $out:"
ls -l "$out"
