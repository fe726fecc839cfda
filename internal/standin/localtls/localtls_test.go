package localtls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func serve(t *testing.T, ca *CA) *Server {
	t.Helper()
	s, err := ca.Serve("", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello over ", r.Proto)
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return s
}

// poolFromFile trusts exactly the PEM file's certificates.
func poolFromFile(t *testing.T, path string) *x509.CertPool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatalf("%s holds no PEM certificate", path)
	}
	return pool
}

func TestTrust(t *testing.T) {
	ca, err := New()
	if err != nil {
		t.Fatal(err)
	}
	other, err := New()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	caFile, otherFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "other.pem")
	if err := ca.WriteCertPEM(caFile); err != nil {
		t.Fatal(err)
	}
	if err := other.WriteCertPEM(otherFile); err != nil {
		t.Fatal(err)
	}
	s := serve(t, ca)
	addr := strings.TrimPrefix(s.URL, "https://")

	tests := []struct {
		name       string
		roots      *x509.CertPool // nil = the system pool
		serverName string
		wantErr    bool
	}{
		{"written CA, 127.0.0.1", poolFromFile(t, caFile), "127.0.0.1", false},
		{"written CA, localhost", poolFromFile(t, caFile), "localhost", false},
		{"written CA, ::1", poolFromFile(t, caFile), "::1", false},
		{"written CA, another name", poolFromFile(t, caFile), "example.com", true},
		{"another CA", poolFromFile(t, otherFile), "127.0.0.1", true},
		{"system roots", nil, "127.0.0.1", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Dial 127.0.0.1 whatever the name, so ::1 and localhost need no IPv6 or resolver.
			tr := &http.Transport{
				TLSClientConfig: &tls.Config{RootCAs: tt.roots, ServerName: tt.serverName},
				DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
					return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
				},
				ForceAttemptHTTP2: true,
			}
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get(s.URL)
			if tt.wantErr {
				var verr *tls.CertificateVerificationError
				if !errors.As(err, &verr) {
					t.Fatalf("error = %v, want a certificate verification error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			// HTTP/1.1 only, so the stand-ins' faults can hijack connections.
			if string(body) != "hello over HTTP/1.1" {
				t.Errorf("body = %q", body)
			}
		})
	}
}

// TestSSLCertFile runs this test binary again as a plain client with
// SSL_CERT_FILE set, as make run starts the handler.
func TestSSLCertFile(t *testing.T) {
	if u := os.Getenv("LOCALTLS_TEST_GET"); u != "" {
		resp, err := http.Get(u)
		if err != nil {
			fmt.Println("GET failed:", err)
			os.Exit(3)
		}
		resp.Body.Close()
		fmt.Println("GET ok")
		os.Exit(0)
	}
	ca, err := New()
	if err != nil {
		t.Fatal(err)
	}
	other, err := New()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	caFile, otherFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "other.pem")
	if err := ca.WriteCertPEM(caFile); err != nil {
		t.Fatal(err)
	}
	if err := other.WriteCertPEM(otherFile); err != nil {
		t.Fatal(err)
	}
	s := serve(t, ca)

	tests := []struct {
		name   string
		file   string
		target string
		wantOK bool
	}{
		{"trusted CA", caFile, s.URL, true},
		{"another CA", otherFile, s.URL, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestSSLCertFile$")
			cmd.Env = append(os.Environ(), "SSL_CERT_FILE="+tt.file, "SSL_CERT_DIR=", "LOCALTLS_TEST_GET="+tt.target)
			out, err := cmd.CombinedOutput()
			if ok := err == nil && strings.Contains(string(out), "GET ok"); ok != tt.wantOK {
				t.Errorf("GET ok = %v, want %v; output:\n%s", ok, tt.wantOK, out)
			}
			if !tt.wantOK && !strings.Contains(string(out), "certificate") {
				t.Errorf("GET failed for another reason than the certificate:\n%s", out)
			}
		})
	}
}

func TestCertificate(t *testing.T) {
	ca, err := New()
	if err != nil {
		t.Fatal(err)
	}
	leaf := ca.ServerConfig().Certificates[0].Leaf
	for _, name := range []string{"localhost", "127.0.0.1", "::1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: ca.Pool()}); err != nil {
			t.Errorf("Verify(%s): %v", name, err)
		}
	}
	if !strings.HasPrefix(string(ca.CertPEM()), "-----BEGIN CERTIFICATE-----") {
		t.Errorf("CertPEM() = %q", ca.CertPEM())
	}
}
