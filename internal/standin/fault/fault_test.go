package fault

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestFaultsAsClientsSeeThem(t *testing.T) {
	body := []byte(`{"data":[1,2,3,4,5,6,7,8,9,10]}`)
	tests := []struct {
		fault      Fault
		wantStatus int
		wantErr    bool // transport or body read error
		wantBody   string
	}{
		{fault: Fault{}, wantStatus: 200, wantBody: string(body)},
		{fault: Fault{Kind: Status, Status: 429, RetryAfter: "7"}, wantStatus: 429},
		{fault: Fault{Kind: HTMLPage, Status: 502}, wantStatus: 502},
		{fault: Fault{Kind: HTMLPage}, wantStatus: 200},
		{fault: Fault{Kind: Truncate}, wantStatus: 200, wantErr: true},
		{fault: Fault{Kind: Reset}, wantErr: true},
		{fault: Fault{Kind: AcceptThenReset}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.fault.String(), func(t *testing.T) {
			served := false
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if Before(w, tt.fault) {
					return
				}
				served = true
				Respond(w, tt.fault, 200, "application/json", body)
			}))
			defer srv.Close()
			resp, err := srv.Client().Get(srv.URL)
			var got []byte
			if err == nil {
				got, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tt.wantStatus {
					t.Errorf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
				}
				if tt.fault.RetryAfter != "" && resp.Header.Get("Retry-After") != tt.fault.RetryAfter {
					t.Errorf("Retry-After = %q, want %q", resp.Header.Get("Retry-After"), tt.fault.RetryAfter)
				}
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error: %v", err, tt.wantErr)
			}
			if tt.wantBody != "" && string(got) != tt.wantBody {
				t.Errorf("body = %q, want %q", got, tt.wantBody)
			}
			if tt.fault.Kind == Truncate && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("truncated body error = %v, want io.ErrUnexpectedEOF", err)
			}
			if want := tt.fault.Kind == AcceptThenReset || tt.fault.Kind == Truncate || tt.fault.Kind == None; served != want {
				t.Errorf("request served = %v, want %v", served, want)
			}
		})
	}
}

func TestPlanQueueThenRandom(t *testing.T) {
	var p Plan
	p.Push(Fault{Kind: Reset}, Fault{Kind: Status, Status: 500})
	if got := p.Next().Kind; got != Reset {
		t.Errorf("first = %v, want reset", got)
	}
	if got := p.Next().Status; got != 500 {
		t.Errorf("second status = %d, want 500", got)
	}
	if got := p.Next().Kind; got != None {
		t.Errorf("third = %v, want none", got)
	}
	p.SetRandom(1, 42, Fault{Kind: Status, Status: 503})
	if got := p.Next().Status; got != 503 {
		t.Errorf("random with rate 1 = %d, want 503", got)
	}
	if n := len(p.Fired()); n != 3 {
		t.Errorf("fired %d faults, want 3", n)
	}
	var nilPlan *Plan
	if nilPlan.Next().Kind != None {
		t.Error("nil plan injected a fault")
	}
}
