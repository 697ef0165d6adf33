#!/usr/bin/env bash
# The .NET SDK is on the machine image. This step checks it, makes sure the few system tools the daemon's
# end-to-end tests use are present (setpriv from util-linux, to run the agent as an unprivileged user), and
# restores the solution once up front so that later steps fail early and clearly. Idempotent; about 30-60 s.
set -euo pipefail
cd "$(dirname "$0")/../.."
echo "dotnet SDK $(dotnet --version)"
if ! command -v setpriv >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  flock /tmp/aifactory-apt.lock apt-get install -y -qq --no-install-recommends util-linux </dev/null
fi
# AOT links with the C toolchain (ILCompiler falls back to gcc + ld.bfd when clang is absent).
if ! command -v gcc >/dev/null && ! command -v clang >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  flock /tmp/aifactory-apt.lock apt-get install -y -qq --no-install-recommends gcc libc6-dev </dev/null
fi
dotnet restore AiFactory.Agent.sln --nologo -v quiet
