// The project's Go developer tools, pinned apart from the main module so its
// go.mod and go.sum stay the product's dependencies only. From the repo root:
//
//	go tool -modfile=tools/go/go.mod staticcheck ./...   (make lint)
//	scripts/vulncheck.sh [--offline]                     (govulncheck)
//
// Upgrade: cd tools/go && go get -tool honnef.co/go/tools/cmd/staticcheck@vX.Y.Z
module github.com/mcas-sentinel/mcas-sentinel/tools/go

go 1.26.0

tool (
	golang.org/x/vuln/cmd/govulncheck
	honnef.co/go/tools/cmd/staticcheck
)

require (
	github.com/BurntSushi/toml v1.4.1-0.20240526193622-a339e1f7089c // indirect
	golang.org/x/exp/typeparams v0.0.0-20231108232855-2478ac86f678 // indirect
	golang.org/x/mod v0.42.0 // indirect
	golang.org/x/sync v0.24.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/telemetry v0.0.0-20261010193011-f71dc92da45e // indirect
	golang.org/x/tools v0.52.0 // indirect
	golang.org/x/vuln v1.9.0 // indirect
	honnef.co/go/tools v0.8.2 // indirect
)
