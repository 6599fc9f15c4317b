#!/usr/bin/env bash
# Opens every .nupkg in a folder and checks what a consumer meets: the README (present and named in the nuspec), the
# XML doc file next to each dll, the dependencies the project declares (and none of the build-only ones), the license
# expression, and the .snupkg with a pdb whose SourceLink maps the sources. Exits non-zero naming what is missing.
# The checks live in scripts/CheckPackages.cs, a file-based .NET app: the SDK is the one tool every CI machine has.
# Usage: bash scripts/check-packages.sh PACKAGES_DIR   (e.g. the folder `dotnet pack -o` wrote to)
set -euo pipefail
if [ $# -ne 1 ] || [ ! -d "$1" ]; then
  echo "usage: scripts/check-packages.sh PACKAGES_DIR" >&2
  exit 2
fi
packages="$(cd "$1" && pwd)"
root="$(cd "$(dirname "$0")/.." && pwd)"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
exec dotnet run --file "$root/scripts/CheckPackages.cs" -- "$packages" "$root"
