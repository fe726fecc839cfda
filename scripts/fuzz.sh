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

# inputs recorded for a target (none when its corpus folder does not exist)
recorded() { if [[ -d $1 ]]; then find "$1" -type f | wc -l; else echo 0; fi; }

ran=0
for t in "${targets[@]}"; do
	dir=${t% *} name=${t#* }
	if (($# > 0)) && [[ " $* " != *" $name "* ]]; then
		continue
	fi
	echo "fuzz: $name in ./$dir for $time"
	corpus="$dir/testdata/fuzz/$name"
	before=$(recorded "$corpus")
	if ! "$go" test -run '^$' -fuzz "^${name}\$" -fuzztime "$time" "${parallel[@]}" "./$dir"; then
		# A real failure always records its input; without one, the engine
		# timed out its own worker at the end of -fuzztime (a loaded machine).
		if (($(recorded "$corpus") > before)); then
			exit 1
		fi
		echo "fuzz: $name stopped without a failing input; running it once more" >&2
		"$go" test -run '^$' -fuzz "^${name}\$" -fuzztime "$time" "${parallel[@]}" "./$dir"
	fi
	ran=$((ran + 1))
done
if ((ran == 0)); then
	echo "fuzz: none of the targets named ($*) exists; found: ${targets[*]#* }" >&2
	exit 1
fi
echo "fuzz: $ran targets, $time each: no failure"
