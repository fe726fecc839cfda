package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/mcas-sentinel/mcas-sentinel/internal/checkpoint"
	"github.com/mcas-sentinel/mcas-sentinel/internal/standin/mcasapi"
	"github.com/mcas-sentinel/mcas-sentinel/schema"
)

// Promise 2: a run whose lease is taken over (its heartbeat could not renew
// in time, and another process took the expired lease) stops sending at once
// and fails with lease_lost; at most the upload already in flight lands, and
// once the other holder is gone the next run forwards the rest, each once.
func TestLeaseTakenOverMidRun(t *testing.T) {
	t.Parallel()
	w := newWorld(t, mcasapi.Options{Seed: 12}, map[string]string{"MCAS_REQUESTS_PER_MINUTE": "120"})
	sim, now := w.stack.Sim, time.Now()
	sim.Backfill(sim.Generator(), now.Add(-time.Hour), now.Add(-5*time.Second), 4000)
	stream := schema.Activity().Stream
	p := w.start()
	done := make(chan invocation, 1)
	go func() { done <- p.invoke(context.Background()) }()
	for len(w.stack.Ingestion.Uploads()) == 0 {
		time.Sleep(20 * time.Millisecond)
	}

	client, err := checkpoint.NewClientFromConnectionString(w.stack.Azurite.ConnectionString(), w.settings["CHECKPOINT_TABLE"], nil)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(w.stack.APIURL)
	key := strings.ToLower(u.Host)
	setLease(t, client, key, "thief", time.Now().Add(time.Minute))
	// The upload in flight at the steal may have landed just before it,
	// its checkpoint save refused just after: its rows come again too.
	ups, rowsAtSteal := w.activityUploads(), 0
	for _, up := range ups {
		rowsAtSteal += up.Rows
	}
	lastBefore := ups[len(ups)-1].Rows

	inv := <-done
	if inv.status != 500 || !strings.Contains(inv.summary(), "lease") {
		t.Fatalf("invocation whose lease was taken: %d %q, want 500 naming the lease", inv.status, inv.summary())
	}
	if !p.waitOutput("lease_lost", 2*time.Second) {
		t.Errorf("stderr lacks the lease_lost class; the invocation said %q", inv.summary())
	}
	rows := w.stack.Ingestion.Rows(stream)
	// At most the upload in flight when the lease was taken (one batch),
	// landed before the steal or after it.
	allowDup := map[string]bool{}
	for _, raw := range rows[rowsAtSteal-lastBefore:] {
		var r struct{ ActivityId string }
		_ = json.Unmarshal(raw, &r)
		allowDup[r.ActivityId] = true
	}
	if n := len(rows) - rowsAtSteal; n > 400 {
		t.Errorf("%d rows sent after the lease was taken over: more than the one upload in flight", n)
	}
	if len(rows) >= 4000 {
		t.Fatalf("the run forwarded everything (%d rows): the takeover came too late to test anything", len(rows))
	}

	// The other holder goes away; the next run takes over from the checkpoint.
	setLease(t, client, key, "", time.Time{})
	p.drain(t, 10)
	w.checkExactlyOnce(sim.Activities(), allowDup)
}

// setLease overwrites the lease fields of the checkpoint entity, as another
// process taking it over would, keeping the cursor as it is.
func setLease(t *testing.T, client *aztables.Client, key, holder string, until time.Time) {
	t.Helper()
	ctx := context.Background()
	got, err := client.GetEntity(ctx, checkpoint.PartitionKey, key, nil)
	if err != nil {
		t.Fatalf("read the checkpoint entity: %v", err)
	}
	var e map[string]any
	if err := json.Unmarshal(got.Value, &e); err != nil {
		t.Fatal(err)
	}
	for k := range e {
		if strings.HasPrefix(k, "odata.") {
			delete(e, k)
		}
	}
	ms := int64(0)
	if !until.IsZero() {
		ms = until.UnixMilli()
	}
	e["LeaseHolder"], e["LeaseToken"] = holder, holder
	e["LeaseExpires"], e["LeaseExpires@odata.type"] = fmt.Sprint(ms), "Edm.Int64"
	body, _ := json.Marshal(e)
	if _, err := client.UpsertEntity(ctx, body, &aztables.UpsertEntityOptions{UpdateMode: aztables.UpdateModeReplace}); err != nil {
		t.Fatalf("overwrite the lease: %v", err)
	}
}

// A checkpoint left at zero, by a version whose first run failed before its
// first save (it created the entity empty), is read as no position: the run
// starts at the initial lookback instead of at the start of time.
func TestCheckpointLeftAtZeroStartsAtTheLookback(t *testing.T) {
	t.Parallel()
	w := newWorld(t, mcasapi.Options{Seed: 15}, nil)
	sim, now := w.stack.Sim, time.Now()
	gen := sim.Generator()
	sim.Backfill(gen, now.Add(-3*time.Hour), now.Add(-2*time.Hour-time.Minute), 40) // before the lookback
	sim.Backfill(gen, now.Add(-time.Hour), now.Add(-5*time.Second), 100)

	client, err := checkpoint.NewClientFromConnectionString(w.stack.Azurite.ConnectionString(), w.settings["CHECKPOINT_TABLE"], nil)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(w.stack.APIURL)
	store, err := checkpoint.NewStore(client, strings.ToLower(u.Host))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	old, err := store.Acquire(ctx, "old-version", time.Now(), 15*time.Second, checkpoint.State{})
	if err != nil {
		t.Fatal(err)
	}
	if err := old.Release(ctx, time.Time{}); err != nil {
		t.Fatal(err)
	}

	p := w.start()
	p.drain(t, 10)
	if !p.waitOutput("the checkpoint holds no position", 2*time.Second) {
		t.Errorf("the handler did not say it found the checkpoint at zero:\n%s", tail(p.out.String(), 1500))
	}
	w.checkExactlyOnce(createdSince(sim.Activities(), now.Add(-2*time.Hour)), nil)
}
