package baseline

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

const record = `{"_id":"5f1f3a2b_20893_0a1b2c3d-1111-2222-3333-444455556666","tenantId":5,"aadTenantId":"3f1d8b0e-1c2d-4e5f-8a9b-0c1d2e3f4a5b","appId":20893,"appName":"Microsoft Exchange Online","timestamp":1595096586840,"created":1595096587000,"eventTypeName":"EVENT_CATEGORY_LOGIN","description":"Log on","severity":"INFO","source":2}`

func frames(pages ...string) *bytes.Buffer {
	var b bytes.Buffer
	for _, p := range pages {
		if err := WriteFrame(&b, []byte(p)); err != nil {
			panic(err)
		}
	}
	return &b
}

func TestRun(t *testing.T) {
	page := `{"total":2,"hasNext":false,"data":[` + record + `,` + record + `]}`
	for _, tc := range []struct {
		name           string
		in             io.Reader
		wantActivities int
		wantPages      int
		wantErr        string
	}{
		{"two pages", frames(page, page), 4, 2, ""},
		{"an empty page", frames(`{"data":[]}`), 0, 1, ""},
		{"nothing", frames(), 0, 0, ""},
		{"no data array", frames(`{"total":0}`), 0, 0, `no "data" array`},
		{"not JSON", frames(`<html>`), 0, 0, "page 0: the body is not valid JSON"},
		{"not an activity", frames(`{"data":[{"foo":1}]}`), 0, 1, "_id"},
		{"a truncated frame", bytes.NewReader(frames(page).Bytes()[:50]), 0, 0, "read page 0"},
		{"a truncated length", bytes.NewReader([]byte{0, 0}), 0, 0, "read page 0"},
		{"an oversized frame", bytes.NewReader([]byte{0xff, 0xff, 0xff, 0xff}), 0, 0, "over"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Run(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Activities != tc.wantActivities || res.Pages != tc.wantPages {
				t.Errorf("%+v, want %d activities in %d pages", res, tc.wantActivities, tc.wantPages)
			}
			if res.Activities > 0 && (res.Batches != 1 || res.GzipBytes <= 0) {
				t.Errorf("%+v, want one gzipped batch", res)
			}
			if res.PeakRSS <= 0 {
				t.Errorf("peak RSS %d, want it read from /proc/self/status", res.PeakRSS)
			}
		})
	}
}

func TestWriteFrame(t *testing.T) {
	var b bytes.Buffer
	if err := WriteFrame(&b, []byte("abc")); err != nil {
		t.Fatal(err)
	}
	if got := b.Bytes(); !bytes.Equal(got, []byte{0, 0, 0, 3, 'a', 'b', 'c'}) {
		t.Errorf("frame % x", got)
	}
	if err := WriteFrame(failingWriter{}, []byte("x")); err == nil {
		t.Error("a failing writer: no error")
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }
