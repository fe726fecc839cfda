package mcas

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// A redirect is not followed. Followed, it is a second request on one paced
// call (two arrivals at the rate-limited API for one slot of the per-minute
// budget), and a 301, 302 or 303 turns the POST into a GET without its
// body, which the API answers with its default page: no created window,
// the wrong order. The answer is a clear error naming the redirect.
func TestRedirectIsNotFollowed(t *testing.T) {
	for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			var requests atomic.Int64
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				_, _ = io.Copy(io.Discard, r.Body)
				if r.URL.Path == "/api/v1/activities/" {
					http.Redirect(w, r, "/moved/api/v1/activities/", code)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"total":1,"hasNext":false,"data":[{"_id":"a1","created":5,"timestamp":4}]}`))
			}))
			defer srv.Close()
			p := &countingPacer{}
			c, err := NewClient(srv.URL+"/api/v1/activities/", &tokens{values: []string{secretToken}}, p, Options{HTTPClient: srv.Client()})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Activities(context.Background(), Query{CreatedFrom: 1, CreatedTo: 2})
			if n := requests.Load(); n != p.n.Load() {
				t.Errorf("%d requests reached the server on %d paced calls", n, p.n.Load())
			}
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.StatusCode != code {
				t.Fatalf("Activities() error = %v, want the %d answer as an APIError", err, code)
			}
			if msg := err.Error(); !strings.Contains(msg, "redirect") || !strings.Contains(msg, "/moved/api/v1/activities/") {
				t.Errorf("error %q does not say where the API redirected to", msg)
			}
		})
	}
}
