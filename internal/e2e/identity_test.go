package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/mcas-sentinel/mcas-sentinel/internal/checkpoint"
	"github.com/mcas-sentinel/mcas-sentinel/internal/localstack"
	"github.com/mcas-sentinel/mcas-sentinel/internal/standin/mcasapi"
)

// The checkpoint as deployed: the table service by URL
// (CHECKPOINT_STORAGE__tableServiceUri), reached with a bearer token from the
// managed-identity endpoint, against an Azurite that checks the token's
// audience, issuer and lifetime and accepts nothing else over this path.
func TestManagedIdentityCheckpoint(t *testing.T) {
	t.Parallel()
	w := newWorldOn(t, localstack.Options{Sim: mcasapi.Options{Seed: 17}, AzuriteManagedIdentity: true}, nil)
	for _, kv := range w.stack.Env() {
		if strings.HasPrefix(kv, "CHECKPOINT_STORAGE=") {
			t.Fatalf("the handler was given a connection string (%s...): this test is about the managed-identity path", kv[:30])
		}
	}
	sim, now := w.stack.Sim, time.Now()
	sim.Backfill(sim.Generator(), now.Add(-50*time.Minute), now.Add(-10*time.Minute), 1500)
	tokensBefore := w.stack.Identity.TokenRequests()
	p := w.start()
	p.drain(t, 5)
	w.checkExactlyOnce(sim.Activities(), nil)
	// Key Vault, Logs Ingestion and Table Storage each need a token of their own.
	if n := w.stack.Identity.TokenRequests() - tokensBefore; n < 3 {
		t.Errorf("%d token requests, want at least 3 (one per audience)", n)
	}

	// The checkpoint is in the table, past the last activity.
	client, err := checkpoint.NewClientFromConnectionString(w.stack.Azurite.ConnectionString(), w.settings["CHECKPOINT_TABLE"], &aztables.ClientOptions{
		ClientOptions: azcore.ClientOptions{Transport: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: caPool(t, w.stack.CAFile)}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(w.stack.APIURL)
	got, err := client.GetEntity(context.Background(), checkpoint.PartitionKey, strings.ToLower(u.Host), nil)
	if err != nil {
		t.Fatalf("read the checkpoint back: %v", err)
	}
	acts := sim.Activities()
	last := acts[len(acts)-1].Created
	var e struct{ CursorCreated string } // Edm.Int64: a string in JSON
	if err := json.Unmarshal(got.Value, &e); err != nil {
		t.Fatal(err)
	}
	if ms, err := strconv.ParseInt(e.CursorCreated, 10, 64); err != nil || ms < last {
		t.Errorf("checkpoint at created %q, want at or past the last activity's %d: %s", e.CursorCreated, last, got.Value)
	}
}

func caPool(t *testing.T, file string) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no certificate", file)
	}
	return pool
}
