package pipeline

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcas-sentinel/mcas-sentinel/internal/azurite/azuritetest"
	"github.com/mcas-sentinel/mcas-sentinel/internal/checkpoint"
	"github.com/mcas-sentinel/mcas-sentinel/internal/mcas"
	"github.com/mcas-sentinel/mcas-sentinel/internal/sentinel"
)

func TestMain(m *testing.M) { os.Exit(azuritetest.Main(m)) }

// newStore returns a checkpoint store on the shared Azurite, in a table of
// the test's own.
func newStore(t *testing.T) *checkpoint.Store {
	t.Helper()
	client, err := checkpoint.NewClientFromConnectionString(azuritetest.Shared(t).ConnectionString(), azuritetest.UniqueTable(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	store, err := checkpoint.NewStore(client, "contoso.example")
	if err != nil {
		t.Fatal(err)
	}
	return store
}

type fixedToken struct{}

func (fixedToken) Token(context.Context) (string, error) { return "token", nil }
func (fixedToken) Invalidate(string)                     {}

// Calls are spaced from their departure, not from their grant. The first
// call of a run opens a connection (DNS, TCP, TLS) and leaves late; spaced
// from its grant, the calls after it would arrive closer together than the
// interval, and a minute could hold one call more than the limit.
func TestPacerSpacesCallsFromTheirDeparture(t *testing.T) {
	const rpm = 600
	interval := Interval(rpm)
	var (
		mu       sync.Mutex
		arrivals []time.Time
	)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrivals = append(arrivals, time.Now())
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"total":0,"hasNext":false,"data":[]}`))
	}))
	defer srv.Close()
	tr := srv.Client().Transport.(*http.Transport).Clone()
	var dials atomic.Int32
	dial := tr.DialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if dials.Add(1) == 1 {
			time.Sleep(3 * interval) // a cold connection to a distant region
		}
		return dial(ctx, network, addr)
	}

	lease, err := newStore(t).Acquire(context.Background(), "h", time.Now(), leaseTTL, checkpoint.State{})
	if err != nil {
		t.Fatal(err)
	}
	p := &pacer{limiter: NewLimiter(rpm), lease: lease, interval: interval}
	c, err := mcas.NewClient(srv.URL+"/api/v1/activities/", fixedToken{}, p, mcas.Options{HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if _, err := c.Activities(context.Background(), mcas.Query{CreatedFrom: 1, CreatedTo: 2}); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for i := 1; i < len(arrivals); i++ {
		// Loopback: a call arrives within a millisecond or two of leaving,
		// but on a loaded machine the server may see one late, and the next
		// one sooner after it. Spaced from the grant, the calls after the
		// slow first arrive under a millisecond apart.
		if gap := arrivals[i].Sub(arrivals[i-1]); gap < interval-interval/4 {
			t.Errorf("calls %d and %d arrived %s apart, want at least the interval %s", i-1, i, gap, interval)
		}
	}
}

// A run that dies holds the next one up for at most the lease's 15 s, at
// any call rate; the next run still makes no call within one interval of
// the dead run's last, however long the interval (a minute at 1 a minute).
func TestDeadRunHoldsTheNextOffOneIntervalAtAnyRate(t *testing.T) {
	for _, rpm := range []int{1, 4, 10, 30, 600} {
		store := newStore(t)
		ctx := context.Background()
		lease, err := store.Acquire(ctx, "dead", time.Now(), leaseTTL, checkpoint.State{})
		if err != nil {
			t.Fatal(err)
		}
		p := &pacer{limiter: NewLimiter(rpm), lease: lease, interval: Interval(rpm)}
		if err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		called := time.Now() // the call goes out; then the process dies
		if held := time.Until(lease.Expires()); held > leaseTTL {
			t.Errorf("rpm %d: the lease is held %s after the last call, more than %s", rpm, held, leaseTTL)
		}
		next, err := store.Acquire(ctx, "next", lease.Expires(), leaseTTL, checkpoint.State{})
		if err != nil {
			t.Fatalf("rpm %d: Acquire at the dead lease's expiry: %v", rpm, err)
		}
		if earliest := called.Add(Interval(rpm)); next.NotBefore().Before(earliest) {
			t.Errorf("rpm %d: the next run may call at %s, %s after the dead run's call; want at least the interval %s",
				rpm, next.NotBefore().Format(time.StampMilli), next.NotBefore().Sub(called), Interval(rpm))
		}
	}
}

// No upload starts on a lease about to run out because renewals have been
// failing: another invocation could take it over and send the same rows.
func TestNoUploadOnALeaseAboutToRunOut(t *testing.T) {
	for _, tc := range []struct {
		name    string
		left    time.Duration
		wantErr bool
	}{
		{"renewed", leaseTTL, false},
		{"two renewals missed", leaseMargin - time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lease, err := newStore(t).Acquire(context.Background(), "h", time.Now().Add(tc.left-leaseTTL), leaseTTL, checkpoint.State{})
			if err != nil {
				t.Fatal(err)
			}
			inner := &uploader{}
			g := &guardedUploader{Uploader: inner, lost: func() error { return nil }, lease: lease}
			b := sentinel.NewBatch()
			if ok, err := b.Append([]byte(`{"ActivityId":"a"}`)); !ok || err != nil {
				t.Fatal(ok, err)
			}
			_, err = g.Upload(context.Background(), "Custom-X", b)
			if got := err != nil; got != tc.wantErr {
				t.Fatalf("Upload with %s of the lease left: %v, want an error: %v", tc.left, err, tc.wantErr)
			}
			if tc.wantErr && (ClassOf(err) != ClassCheckpoint || len(inner.got) != 0) {
				t.Errorf("refused upload: class %q, %d sent; want %q and nothing sent", ClassOf(err), len(inner.got), ClassCheckpoint)
			}
		})
	}
}
