package funchost

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestListenAddr(t *testing.T) {
	tests := []struct {
		port    string
		want    string
		wantErr bool
	}{
		{port: "", want: "127.0.0.1:8080"},
		{port: "  ", want: "127.0.0.1:8080"},
		{port: "41234", want: "127.0.0.1:41234"},
		{port: " 7071 ", want: "127.0.0.1:7071"},
		{port: "1", want: "127.0.0.1:1"},
		{port: "65535", want: "127.0.0.1:65535"},
		{port: "0", wantErr: true},
		{port: "65536", wantErr: true},
		{port: "-1", wantErr: true},
		{port: "http", wantErr: true},
		{port: "80.5", wantErr: true},
		{port: "127.0.0.1:80", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.port, func(t *testing.T) {
			got, err := ListenAddr(func(k string) string {
				if k == PortEnv {
					return tt.port
				}
				return ""
			})
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), PortEnv) {
					t.Errorf("ListenAddr(%q) = %q, %v; want an error naming %s", tt.port, got, err, PortEnv)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ListenAddr(%q) = %q, %v; want %q", tt.port, got, err, tt.want)
			}
		})
	}
}

// freeAddr returns a loopback address with a port nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// startServe runs Serve on a free port and waits until GET / answers 200, as
// the host does. It returns the address and Serve's result channel.
func startServe(t *testing.T, ctx context.Context, invoke InvokeFunc, grace time.Duration) (string, <-chan error) {
	t.Helper()
	addr := freeAddr(t)
	logger, _ := newTestLogger()
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, addr, NewHandler(testFunction, invoke, logger), grace, logger) }()

	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET / = %d, want 200", resp.StatusCode)
			}
			return addr, done
		}
		if time.Now().After(deadline) {
			t.Fatalf("server on %s not ready: %v", addr, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func invokeOver(t *testing.T, addr string) (int, string, error) {
	t.Helper()
	resp, err := http.Post("http://"+addr+"/"+testFunction, "application/json", strings.NewReader(payloadDotNet))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func TestServeLongInvocation(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 3 s")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, done := startServe(t, ctx, func(ctx context.Context, _ Invocation) (Result, error) {
		select {
		case <-time.After(3 * time.Second):
			return Result{Logs: []string{"long run done"}}, nil
		case <-ctx.Done():
			return Result{}, ctx.Err()
		}
	}, time.Second)

	status, body, err := invokeOver(t, addr)
	if err != nil || status != http.StatusOK || !strings.Contains(body, "long run done") {
		t.Fatalf("invocation = %d %q, %v; want 200 with its logs", status, body, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve() = %v, want nil after a clean shutdown", err)
	}
}

func TestServeGracefulShutdownWaits(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started, release := make(chan struct{}), make(chan struct{})
	addr, done := startServe(t, ctx, func(ctx context.Context, _ Invocation) (Result, error) {
		close(started)
		select {
		case <-release:
			return Result{Logs: []string{"finished"}}, nil
		case <-ctx.Done():
			return Result{}, ctx.Err()
		}
	}, 10*time.Second)

	type result struct {
		status int
		body   string
		err    error
	}
	res := make(chan result, 1)
	go func() {
		s, b, err := invokeOver(t, addr)
		res <- result{s, b, err}
	}()
	<-started
	cancel() // SIGTERM

	select {
	case err := <-done:
		t.Fatalf("Serve returned %v while an invocation was in flight", err)
	case <-time.After(300 * time.Millisecond):
	}
	// No new connections once shutting down.
	if _, err := http.Get("http://" + addr + "/"); err == nil {
		t.Error("GET / succeeded after shutdown began")
	}
	close(release)
	if r := <-res; r.err != nil || r.status != http.StatusOK || !strings.Contains(r.body, "finished") {
		t.Errorf("in-flight invocation = %d %q, %v; want 200 finished", r.status, r.body, r.err)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve() = %v, want nil", err)
	}
}

func TestServeGraceExpires(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan struct{})
	cancelled := make(chan struct{})
	addr, done := startServe(t, ctx, func(ctx context.Context, _ Invocation) (Result, error) {
		close(started)
		<-ctx.Done()
		close(cancelled)
		return Result{}, ctx.Err()
	}, 200*time.Millisecond)

	go func() { _, _, _ = invokeOver(t, addr) }()
	<-started
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Serve() = %v, want the grace deadline", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the grace period")
	}
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Error("the in-flight invocation's context was not cancelled after the grace period")
	}
}

func TestServeListenError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	logger := slog.New(slog.DiscardHandler)
	err = Serve(context.Background(), ln.Addr().String(), http.NotFoundHandler(), time.Second, logger)
	if err == nil || !strings.Contains(err.Error(), "listen on") {
		t.Errorf("Serve on a used port = %v, want a listen error", err)
	}
}
