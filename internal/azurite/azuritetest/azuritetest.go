// Package azuritetest gives tests a real Azurite Table service.
//
// A package whose tests need one either starts a fresh emulator per test with
// Start, or shares one per test binary with Shared, which requires
//
//	func TestMain(m *testing.M) { os.Exit(azuritetest.Main(m)) }
//
// When AZURITE_CONNECTION_STRING is set, both use that emulator instead of
// starting one. When the emulator is not installed they fail the test with the
// install hint; they never skip, so a missing install cannot pass silently.
package azuritetest

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mcas-sentinel/mcas-sentinel/internal/azurite"
)

// EnvConnectionString names the variable that points tests at an emulator
// somebody else runs.
const EnvConnectionString = "AZURITE_CONNECTION_STRING"

// Start returns an emulator for tb alone: the external one, or a fresh
// in-memory one that tb.Cleanup stops (failing tb if it had died). It blocks
// until the emulator is ready and calls tb.Fatal if it cannot start.
func Start(tb testing.TB) *azurite.Process {
	tb.Helper()
	if conn := os.Getenv(EnvConnectionString); conn != "" {
		return azurite.Attach(conn)
	}
	p, err := azurite.Start(context.Background(), azurite.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := p.Stop(); err != nil {
			tb.Error(err)
		}
	})
	return p
}

var (
	mainRunning atomic.Bool
	sharedOnce  sync.Once
	shared      *azurite.Process
	sharedErr   error
)

// Main runs the tests of a package that uses Shared and stops the shared
// emulator afterwards. Call it from TestMain and pass its result to os.Exit.
func Main(m *testing.M) int {
	mainRunning.Store(true)
	code := m.Run()
	if shared != nil {
		if err := shared.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "azuritetest:", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// Shared returns the emulator shared by all tests of this test binary,
// starting an in-memory one on first use (or attaching to the external one).
// Tests sharing it must use their own tables (UniqueTable). It calls tb.Fatal
// if the emulator cannot start or if TestMain does not call Main.
func Shared(tb testing.TB) *azurite.Process {
	tb.Helper()
	if !mainRunning.Load() {
		tb.Fatal("azuritetest.Shared needs TestMain to call azuritetest.Main (it stops the shared emulator)")
	}
	sharedOnce.Do(func() {
		if conn := os.Getenv(EnvConnectionString); conn != "" {
			shared = azurite.Attach(conn)
			return
		}
		shared, sharedErr = azurite.Start(context.Background(), azurite.Options{})
	})
	if sharedErr != nil {
		tb.Fatal(sharedErr)
	}
	return shared
}

var tableSeq atomic.Uint64

// UniqueTable returns a valid table name (letters and digits, starting with a
// letter) unique within this test binary and unlikely to collide across runs
// against one external emulator.
func UniqueTable(tb testing.TB) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(tb.Name()))
	return fmt.Sprintf("t%08x%06dp%d", h.Sum32(), tableSeq.Add(1), os.Getpid())
}
