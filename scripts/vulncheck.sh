#!/usr/bin/env bash
# Runs govulncheck (pinned in tools/go/go.mod) over the module.
#
#   scripts/vulncheck.sh             # against the Go vulnerability database, vuln.go.dev (CI: needs that network)
#   scripts/vulncheck.sh --offline   # where only the Go module proxy is reachable
#
# --offline builds the same database locally: the OSV files it is made from
# ship in the golang.org/x/vulndb module (data/osv), which the module proxy
# serves like any module, and that module's cmd/indexdb writes them out as a
# v1 database for `govulncheck -db file://...`. VULNDB_VERSION pins the
# vulndb version (default latest, i.e. the newest commit the proxy knows);
# the database is kept under .local/vulndb/<version>. The first build takes
# a minute or two (indexdb's dependencies). Further arguments go to
# govulncheck (e.g. -show verbose).
#
# Exit status is govulncheck's: 0 clean, 3 when the code calls a vulnerable
# function.
set -euo pipefail

cd "$(dirname "$0")/.."
go=${GO:-go}
args=()
if [[ ${1:-} == --offline ]]; then
	shift
	# Outside any module, so nothing here touches a go.mod or go.sum.
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	info=$(cd "$work" && GOFLAGS= "$go" mod download -json "golang.org/x/vulndb@${VULNDB_VERSION:-latest}")
	version=$(sed -n 's/^[[:space:]]*"Version": "\(.*\)",$/\1/p' <<<"$info")
	src=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"$info")
	db=$PWD/.local/vulndb/$version
	if [[ ! -f $db/index/db.json ]]; then
		echo "vulncheck: building the vulnerability database from golang.org/x/vulndb@$version" >&2
		rm -rf "$db.tmp"
		(cd "$work" && GOFLAGS= "$go" run "golang.org/x/vulndb/cmd/indexdb@$version" -vulns "$src/data/osv" -out "$db.tmp")
		mv "$db.tmp" "$db"
	fi
	echo "vulncheck: offline database golang.org/x/vulndb@$version" >&2
	args=(-db "file://$db")
fi
exec "$go" tool -modfile=tools/go/go.mod govulncheck "${args[@]}" "$@" ./...
