package azurite

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mcas-sentinel/mcas-sentinel/internal/modroot"
)

// binRel is where `npm ci` in tools/azurite puts the Table service's launcher,
// relative to the module root.
var binRel = filepath.Join("tools", "azurite", "node_modules", ".bin", "azurite-table")

// InstallHint tells a developer how to get the emulator; it ends every
// "not installed" error.
const InstallHint = "run `make test` (or `npm ci --no-audit --no-fund` in tools/azurite) to install it"

const (
	defaultStartTimeout = 30 * time.Second
	// stopGrace is how long Stop waits after SIGINT before it kills: Azurite
	// saves its database on SIGINT (SIGTERM would kill node without saving).
	stopGrace = 10 * time.Second
	// outputTail bounds the emulator output kept for error messages.
	outputTail = 64 << 10
)

// Options configures Start. The zero value runs an in-memory emulator on a free
// loopback port.
type Options struct {
	// Bin is the azurite-table launcher. Empty means binRel under the module
	// root, found by walking up from the working directory to go.mod.
	Bin string
	// Location is a directory for persistent state, created if missing, kept
	// across runs (make run uses one under .local/). Empty keeps everything in
	// memory; it is lost at Stop.
	Location string
	// Port is the Table service port; 0 picks a free one.
	Port int
	// StartTimeout bounds the wait until the emulator answers; 0 means 30 s.
	StartTimeout time.Duration
	// Output, when set, also receives the emulator's stdout and stderr. The
	// Process keeps the last 64 KiB either way, for error messages.
	Output io.Writer
	// AccessLog lets Azurite log every request; by default it runs --silent.
	AccessLog bool
	// TLS serves HTTPS with this certificate instead of HTTP.
	TLS *TLS
	// OAuth accepts bearer tokens (Azurite's --oauth basic: issuer, audience
	// and lifetime are checked, the signature is not), as a storage account
	// does for a managed identity. It needs TLS: Azurite refuses bearer
	// tokens over HTTP. Shared-key requests are still accepted.
	OAuth bool
}

// TLS is the certificate Azurite serves and the roots that verify it.
type TLS struct {
	CertFile, KeyFile string         // PEM, for 127.0.0.1
	RootCAs           *x509.CertPool // for the readiness probe
}

// Process is a running Azurite Table service started by Start, or an external
// one named by Attach. Its methods are safe for concurrent use.
type Process struct {
	conn     string
	endpoint string
	port     int

	probeTLS *tls.Config // verifies an HTTPS emulator in waitReady; nil for HTTP

	cmd    *exec.Cmd // nil when attached
	out    *tailBuffer
	exited chan struct{} // closed once cmd.Wait returned
	// waitErr is set before exited is closed.
	waitErr error

	stopOnce sync.Once
	stopErr  error
}

// Attach returns a Process for an emulator somebody else runs (for example a
// CI service named by AZURITE_CONNECTION_STRING). Its TableEndpoint and Port
// come from the connection string's TableEndpoint, if any; PID is 0 and Stop
// does nothing.
func Attach(connectionString string) *Process {
	p := &Process{conn: connectionString}
	for part := range strings.SplitSeq(connectionString, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		if !strings.EqualFold(k, "TableEndpoint") {
			continue
		}
		p.endpoint = strings.TrimRight(v, "/")
		if u, err := url.Parse(p.endpoint); err == nil {
			p.port, _ = strconv.Atoi(u.Port())
		}
	}
	return p
}

// FindBin returns the azurite-table launcher under the module root that holds
// dir (or one of its parents). The error carries InstallHint when the module
// root is found but the emulator is not installed.
func FindBin(dir string) (string, error) {
	root, err := modroot.Find(dir)
	if err != nil {
		return "", fmt.Errorf("azurite: tools/azurite cannot be found, so set Options.Bin: %w", err)
	}
	bin := filepath.Join(root, binRel)
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("azurite: %s is not installed: %s: %w", bin, InstallHint, err)
	}
	return bin, nil
}

// Start runs Azurite's Table service on 127.0.0.1 and blocks until it accepts
// requests, the StartTimeout passes, or ctx is done; ctx bounds only the start,
// not the emulator's life, which lasts until Stop. On any failure nothing is
// left running and the error includes the emulator's output. A missing
// launcher gives an error carrying InstallHint.
func Start(ctx context.Context, opts Options) (*Process, error) {
	bin := opts.Bin
	if bin == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("azurite: %w", err)
		}
		if bin, err = FindBin(wd); err != nil {
			return nil, err
		}
	} else if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("azurite: launcher %s: %s: %w", bin, InstallHint, err)
	}
	if opts.OAuth && opts.TLS == nil {
		return nil, errors.New("azurite: Options.OAuth needs Options.TLS: Azurite accepts bearer tokens only over HTTPS")
	}
	if opts.Location != "" {
		if err := os.MkdirAll(opts.Location, 0o755); err != nil {
			return nil, fmt.Errorf("azurite: state directory: %w", err)
		}
	}

	// A free port found by listening and closing can be taken by someone else
	// before Azurite binds it; with a port of our choosing, try another.
	attempts := 1
	if opts.Port == 0 {
		attempts = 3
	}
	var err error
	for range attempts {
		port := opts.Port
		if port == 0 {
			if port, err = freePort(); err != nil {
				return nil, err
			}
		}
		var p *Process
		p, err = start(ctx, bin, port, opts)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, errAddrInUse) {
			return nil, err
		}
	}
	return nil, err
}

var errAddrInUse = errors.New("port already in use")

func start(ctx context.Context, bin string, port int, opts Options) (*Process, error) {
	args := []string{
		"--tableHost", "127.0.0.1",
		"--tablePort", strconv.Itoa(port),
		"--disableTelemetry",
		// A newer aztables may send an API version this pinned Azurite does
		// not know yet; the operations used here are unchanged.
		"--skipApiVersionCheck",
	}
	if !opts.AccessLog {
		args = append(args, "--silent")
	}
	scheme := "http"
	if opts.TLS != nil {
		scheme = "https"
		args = append(args, "--cert", opts.TLS.CertFile, "--key", opts.TLS.KeyFile)
	}
	if opts.OAuth {
		args = append(args, "--oauth", "basic")
	}
	dir := opts.Location
	if dir == "" {
		args = append(args, "--inMemoryPersistence")
		dir = os.TempDir() // nothing should be written, but never into the source tree
	} else {
		args = append(args, "--location", opts.Location)
	}

	p := &Process{
		port:   port,
		out:    &tailBuffer{max: outputTail},
		exited: make(chan struct{}),
	}
	p.endpoint = scheme + "://127.0.0.1:" + strconv.Itoa(port) + "/" + AccountName
	if opts.TLS != nil {
		p.probeTLS = &tls.Config{RootCAs: opts.TLS.RootCAs}
	}
	p.conn = ConnectionString(p.endpoint)
	var out io.Writer = p.out
	if opts.Output != nil {
		out = io.MultiWriter(p.out, opts.Output)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = sysProcAttr()
	// Something the emulator spawned could keep its output pipe open after it
	// exited; do not let Wait (and so Stop) hang on that.
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("azurite: start %s: %w", bin, err)
	}
	p.cmd = cmd
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()

	timeout := opts.StartTimeout
	if timeout <= 0 {
		timeout = defaultStartTimeout
	}
	if err := p.waitReady(ctx, timeout); err != nil {
		_ = p.Stop()
		return nil, err
	}
	return p, nil
}

// waitReady polls until the emulator answers HTTP as Azurite (the Server
// header tells it from whatever else might have grabbed the port).
func (p *Process) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: p.probeTLS}}
	defer client.CloseIdleConnections()
	url := p.TableEndpoint() + "/Tables"
	for {
		select {
		case <-p.exited:
			out := p.out.String()
			err := fmt.Errorf("azurite: exited before it was ready (%v); output:\n%s", p.waitErr, out)
			if strings.Contains(out, "EADDRINUSE") {
				return fmt.Errorf("%w: %w", errAddrInUse, err)
			}
			return err
		case <-ctx.Done():
			return fmt.Errorf("azurite: waiting to be ready: %w; output so far:\n%s", ctx.Err(), p.out.String())
		case <-deadline.C:
			return fmt.Errorf("azurite: not ready on port %d after %v; output so far:\n%s", p.port, timeout, p.out.String())
		case <-tick.C:
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("azurite: readiness probe: %w", err)
		}
		resp, err := client.Do(req)
		if err != nil {
			continue // not listening yet
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if strings.HasPrefix(resp.Header.Get("Server"), "Azurite-Table") {
			return nil
		}
	}
}

// ConnectionString returns the connection string for this emulator (the
// development account with an explicit TableEndpoint), as aztables parses it.
func (p *Process) ConnectionString() string { return p.conn }

// Port returns the Table service port (0 if unknown for an attached emulator).
func (p *Process) Port() int { return p.port }

// TableEndpoint returns the Table service URL including the account path,
// e.g. http://127.0.0.1:10002/devstoreaccount1 ("" if unknown for an attached
// emulator).
func (p *Process) TableEndpoint() string { return p.endpoint }

// PID returns the emulator's process id (also its process group id), or 0 for
// an attached emulator.
func (p *Process) PID() int {
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Output returns the last 64 KiB the emulator printed.
func (p *Process) Output() string {
	if p.out == nil {
		return ""
	}
	return p.out.String()
}

// Stop asks the emulator to shut down (SIGINT, so a persistent one saves its
// state), kills its whole process group if it has not exited within 10 s, and
// blocks until it is gone. It is idempotent. It returns an error if the
// emulator had died on its own before Stop, since state may have been lost.
func (p *Process) Stop() error {
	if p.cmd == nil {
		return nil
	}
	p.stopOnce.Do(func() {
		select {
		case <-p.exited:
			p.stopErr = fmt.Errorf("azurite: had exited before Stop (%v); output:\n%s", p.waitErr, p.out.String())
			killGroup(p.cmd.Process, true)
			return
		default:
		}
		killGroup(p.cmd.Process, false)
		select {
		case <-p.exited:
		case <-time.After(stopGrace):
			killGroup(p.cmd.Process, true)
			<-p.exited
		}
		// The launcher is a single node process, but make sure nothing it may
		// have spawned outlives it.
		killGroup(p.cmd.Process, true)
	})
	return p.stopErr
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("azurite: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
