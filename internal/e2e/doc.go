// Package e2e holds the end-to-end tests: the built handler binary, run as
// the Functions host runs it, against the local stack (real Azurite, the
// stand-ins for Key Vault, managed identity, the Activities API and the Logs
// Ingestion API). There is one test per promise of the SPEC; each would fail
// if the promise it guards were broken.
package e2e
