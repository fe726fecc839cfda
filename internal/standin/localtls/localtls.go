// Package localtls gives the local stand-ins real TLS: a throwaway CA and a
// server certificate for 127.0.0.1, ::1 and localhost. The CA is written as
// PEM for other processes to trust through SSL_CERT_FILE, so the product talks
// to the stand-ins with certificate checks on, exactly as to Azure.
//
// Go reads SSL_CERT_FILE instead of the system bundle (not in addition to it),
// which suits a stack where every endpoint is local.
package localtls

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"time"
)

// validity is how long the certificates last: long enough for any local run.
const validity = 7 * 24 * time.Hour

// CA is a throwaway certificate authority and the loopback server certificate it signed.
type CA struct {
	certPEM []byte
	pool    *x509.CertPool
	server  tls.Certificate
}

// New creates a CA and a server certificate for 127.0.0.1, ::1 and localhost.
func New() (*CA, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("CA key: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "mcas-sentinel local CA", Organization: []string{"mcas-sentinel stand-ins"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("server key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("server certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("server certificate: %w", err)
	}

	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return &CA{
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pool:    pool,
		server:  tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
	}, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127)) // never fails with crypto/rand
	return n
}

// CertPEM returns the CA certificate as PEM.
func (c *CA) CertPEM() []byte { return append([]byte(nil), c.certPEM...) }

// WriteCertPEM writes the CA certificate as PEM to path, the file to name in SSL_CERT_FILE.
func (c *CA) WriteCertPEM(path string) error {
	if err := os.WriteFile(path, c.certPEM, 0o644); err != nil {
		return fmt.Errorf("writing the CA certificate: %w", err)
	}
	return nil
}

// WriteServerPEM writes the loopback server certificate and its private key
// (PKCS #8) as PEM, for a server in another process (Azurite over HTTPS).
func (c *CA) WriteServerPEM(certPath, keyPath string) error {
	key, err := x509.MarshalPKCS8PrivateKey(c.server.PrivateKey)
	if err != nil {
		return fmt.Errorf("server key: %w", err)
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.server.Certificate[0]}), 0o644); err != nil {
		return fmt.Errorf("writing the server certificate: %w", err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), 0o600); err != nil {
		return fmt.Errorf("writing the server key: %w", err)
	}
	return nil
}

// Pool returns a pool holding only the CA, for in-process clients.
func (c *CA) Pool() *x509.CertPool { return c.pool.Clone() }

// ServerConfig returns a TLS configuration for servers presenting the loopback
// certificate. It offers HTTP/1.1 only: the stand-ins' faults hijack
// connections, which HTTP/2 does not allow.
func (c *CA) ServerConfig() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{c.server},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"},
	}
}

// Server is an http.Handler served over TLS on loopback.
type Server struct {
	// URL is the base URL, https://127.0.0.1:<port>.
	URL string
	srv *http.Server
	err chan error
}

// Serve serves h over TLS on addr ("127.0.0.1:0", a free port, when empty)
// until Close.
func (c *CA) Serve(addr string, h http.Handler) (*Server, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("serving TLS: %w", err)
	}
	var protos http.Protocols
	protos.SetHTTP1(true)
	s := &Server{
		URL: "https://" + ln.Addr().String(),
		srv: &http.Server{
			Handler:           h,
			TLSConfig:         c.ServerConfig(),
			Protocols:         &protos,
			ReadHeaderTimeout: 10 * time.Second,
		},
		err: make(chan error, 1),
	}
	go func() { s.err <- s.srv.ServeTLS(ln, "", "") }()
	return s, nil
}

// Close stops the server, waiting up to ctx's deadline for requests in flight.
func (s *Server) Close(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		err = s.srv.Close()
	}
	if serr := <-s.err; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("closing %s: %w", s.URL, err)
	}
	return nil
}
