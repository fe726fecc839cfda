#!/bin/sh
# Builds the Functions deployment package of mcas-sentinel into infra/.build/functionapp:
#   host.json, MCASTimerTrigger/function.json and the handler binary, cross-compiled for
#   linux/amd64 (Flex Consumption) at the path host.json's defaultExecutablePath names.
# azd runs it as the prepackage hook (azure.yaml) and zips the folder. Without azd:
#   infra/scripts/package.sh --zip   # also writes infra/.build/functionapp.zip (needs zip)
#   az functionapp deployment source config-zip -g <rg> -n <app> --src infra/.build/functionapp.zip
# MCAS_PACKAGE_ROOT overrides the repository root (the tests use it).
set -eu

root=${MCAS_PACKAGE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
out="$root/infra/.build/functionapp"

host_json="$root/host.json"
[ -f "$host_json" ] || { echo "package.sh: $host_json not found" >&2; exit 1; }
[ -f "$root/MCASTimerTrigger/function.json" ] || { echo "package.sh: MCASTimerTrigger/function.json not found" >&2; exit 1; }

# "defaultExecutablePath": "bin/handler" -> bin/handler
exe=$(tr -d '\r\n' < "$host_json" | sed -n 's/.*"defaultExecutablePath"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')
case "$exe" in
  "") echo "package.sh: host.json has no customHandler.description.defaultExecutablePath" >&2; exit 1 ;;
  /*|*..*) echo "package.sh: defaultExecutablePath '$exe' must be a relative path inside the package" >&2; exit 1 ;;
esac

rm -rf "$out"
mkdir -p "$out/MCASTimerTrigger" "$(dirname "$out/$exe")"
cp "$host_json" "$out/host.json"
cp "$root/MCASTimerTrigger/function.json" "$out/MCASTimerTrigger/function.json"

# The handler reports its version from the Go build info (module version and VCS stamp).
(cd "$root" && CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -ldflags "-s -w" -o "$out/$exe" ./handler)
chmod 755 "$out/$exe"

if [ "${1:-}" = "--zip" ]; then
  command -v zip >/dev/null 2>&1 || { echo "package.sh: --zip needs the zip command" >&2; exit 1; }
  rm -f "$out.zip"
  (cd "$out" && zip -qr -X "$out.zip" .)
  echo "package.sh: wrote $out.zip"
fi
echo "package.sh: built $out ($exe for linux/amd64)"
