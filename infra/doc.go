// Package infra holds the deployment of mcas-sentinel: Bicep templates (main.bicep and modules/),
// the Sentinel content (sentinel/), the azd parameters and the packaging script. It has no Go code
// of its own; its tests (package infra_test) check the templates offline: they parse every .bicep
// file with the tree-sitter Bicep grammar (tools/), resolve symbols and module parameters, evaluate
// the app settings, table columns, DCR streams and role assignments, and check every KQL query's
// column names against the column schemas in schema/. README.md says what is and is not checked.
package infra
