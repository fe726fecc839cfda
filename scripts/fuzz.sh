#!/usr/bin/env bash
# Runs every fuzz target of the module for a while each, one after another.
#
#   scripts/fuzz.sh            # 5 s each: the short run `make test` does
#   scripts/fuzz.sh 10m        # a longer hunt: 10 minutes each
#   scripts/fuzz.sh 60 FuzzDecodePage   # only the targets named
#
# The first argument is seconds (a bare number) or a Go duration (30s, 10m,
# 1h). Targets are found by their `func FuzzX(f *testing.F)` in *_test.go
# files, so a new one is fuzzed without editing this script. A failing input
# is written to <package>/testdata/fuzz/<FuzzX>/ and replayed by every later
# `go test` of that package: commit it with the fix. GO (default go) and
# FUZZ_PARALLEL (default: go test's, GOMAXPROCS) can be set.
set -euo pipefail

cd "$(dirname "$0")/.."
go=${GO:-go}
time=${1:-5}
[[ $time =~ ^[0-9]+$ ]] && time=${time}s
shift || true

# "<dir> <FuzzName>" per target, outside node_modules and nested modules.
mapfile -t targets < <(
	find . \( -name node_modules -o -name testdata -o -path ./tools \) -prune -o -name '*_test.go' -print |
		xargs grep -HoE '^func Fuzz[A-Za-z0-9_]+\(f \*testing\.F\)' |
		sed -E 's#^\./(.*)/[^/]+_test\.go:func (Fuzz[A-Za-z0-9_]+).*#\1 \2#' | sort -u
)
if ((${#targets[@]} == 0)); then
	echo "fuzz: no fuzz targets found" >&2
	exit 1
fi

parallel=()
[[ -n ${FUZZ_PARALLEL:-} ]] && parallel=(-parallel "$FUZZ_PARALLEL")

ran=0
for t in "${targets[@]}"; do
	dir=${t% *} name=${t#* }
	if (($# > 0)) && [[ " $* " != *" $name "* ]]; then
		continue
	fi
	echo "fuzz: $name in ./$dir for $time"
	"$go" test -run '^$' -fuzz "^${name}\$" -fuzztime "$time" "${parallel[@]}" "./$dir"
	ran=$((ran + 1))
done
if ((ran == 0)); then
	echo "fuzz: none of the targets named ($*) exists; found: ${targets[*]#* }" >&2
	exit 1
fi
echo "fuzz: $ran targets, $time each: no failure"
