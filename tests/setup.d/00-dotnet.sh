#!/usr/bin/env bash
# The .NET SDK is on the machine image; restore once up front so later steps fail early and clearly.
set -euo pipefail
cd "$(dirname "$0")/../.."
dotnet --version
dotnet restore AiFactory.Agent.sln --nologo -v quiet
