package funchost

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// PortEnv is the variable through which the host passes the handler's port.
const PortEnv = "FUNCTIONS_CUSTOMHANDLER_PORT"

// DefaultPort is used when PortEnv is unset, for plain local runs.
const DefaultPort = 8080

// ListenAddr returns the loopback address to listen on: 127.0.0.1 and the port
// in FUNCTIONS_CUSTOMHANDLER_PORT (DefaultPort when unset). The host always
// connects to 127.0.0.1, so nothing listens on other interfaces.
func ListenAddr(getenv func(string) string) (string, error) {
	port := DefaultPort
	if s := strings.TrimSpace(getenv(PortEnv)); s != "" {
		p, err := strconv.Atoi(s)
		if err != nil || p < 1 || p > 65535 {
			return "", fmt.Errorf("%s: %q is not a TCP port (want an integer from 1 to 65535)", PortEnv, truncate(s, 32))
		}
		port = p
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), nil
}

// Serve listens on addr and serves h until ctx is cancelled, then shuts down
// gracefully: it stops accepting connections and waits up to shutdownGrace for
// in-flight invocations. When the grace runs out, their contexts are cancelled,
// connections are closed and Serve returns an error. It returns nil after a
// clean shutdown, and an error when it cannot listen or serving fails.
//
// The server has no read or write timeout: an invocation legitimately lasts
// minutes, and the host applies its own timeout (functionTimeout + 1 min).
func Serve(ctx context.Context, addr string, h http.Handler, shutdownGrace time.Duration, logger *slog.Logger) error {
	// Listen before serving so the host's first readiness poll already connects.
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	return serve(ctx, ln, h, shutdownGrace, logger)
}

func serve(ctx context.Context, ln net.Listener, h http.Handler, grace time.Duration, logger *slog.Logger) error {
	// Requests get a base context that outlives ctx (SIGTERM must not abort a
	// running invocation) but is cancelled once the grace period is over.
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	logger.Info("listening", "addr", ln.Addr().String())

	select {
	case err := <-served:
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}

	logger.Info("shutting down", "grace", grace.String())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		cancelBase()
		_ = srv.Close()
		<-served
		return fmt.Errorf("shut down within %s: in-flight invocations were cancelled: %w", grace, err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	}
	logger.Info("stopped")
	return nil
}
