package timerhost

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	// readyPollInterval is the host's readiness polling interval.
	readyPollInterval = 25 * time.Millisecond
	// outputDrainTimeout bounds how long an exited handler's output pipes are
	// read after its process group was killed (a descendant that left the
	// group could otherwise hold them open forever).
	outputDrainTimeout = time.Second
	// tailLines is how much handler output start-up errors quote.
	tailLines = 20
	// maxLine caps one output line; longer lines are split.
	maxLine = 64 << 10
)

// process is one running handler process.
type process struct {
	cmd     *exec.Cmd
	pid     int
	port    int
	baseURL string
	started time.Time
	tail    *lineTail

	exited chan struct{} // closed once the process is reaped and its output drained
	err    error         // cmd.Wait's result; read only after exited is closed

	killOnce sync.Once
	killReq  chan struct{} // closed to ask the supervisor to kill and restart it
}

// requestKill asks the supervisor to kill p and start a new handler.
func (p *process) requestKill() { p.killOnce.Do(func() { close(p.killReq) }) }

// startProcess starts the handler on a free port; it does not wait for
// readiness. Its output is reported as Output events.
func (h *Host) startProcess() (*process, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(h.app.Executable, h.app.Arguments...)
	cmd.Dir = h.app.WorkingDirectory
	cmd.Env = h.childEnv(port)
	cmd.SysProcAttr = sysProcAttr()

	// Own pipes rather than exec's copying goroutines: the readers must know
	// the pid, and their lifetime must not depend on descendants.
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("timerhost: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, fmt.Errorf("timerhost: %w", err)
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	started := time.Now()
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return nil, fmt.Errorf("timerhost: starting the handler %s: %w", h.app.Executable, err)
	}
	p := &process{
		cmd:     cmd,
		pid:     cmd.Process.Pid,
		port:    port,
		baseURL: "http://127.0.0.1:" + strconv.Itoa(port),
		started: started,
		tail:    &lineTail{},
		exited:  make(chan struct{}),
		killReq: make(chan struct{}),
	}
	var readers sync.WaitGroup
	readers.Go(func() { h.readOutput(p, Stdout, outR) })
	readers.Go(func() { h.readOutput(p, Stderr, errR) })
	go func() {
		err := cmd.Wait()
		// Whatever the handler left behind in its group dies with it.
		killGroup(p)
		drained := make(chan struct{})
		go func() { readers.Wait(); close(drained) }()
		select {
		case <-drained:
		case <-time.After(outputDrainTimeout):
			outR.Close()
			errR.Close()
			<-drained
		}
		outR.Close()
		errR.Close()
		p.err = err
		close(p.exited)
	}()
	return p, nil
}

// childEnv is the environment the host gives a handler: its own environment
// plus the app settings, and the custom handler variables.
func (h *Host) childEnv(port int) []string {
	env := append([]string(nil), h.app.environ...)
	p := strconv.Itoa(port)
	id := newGUID()
	return append(env,
		"FUNCTIONS_CUSTOMHANDLER_PORT="+p,
		"FUNCTIONS_CUSTOMHANDLER_WORKER_ID="+id,
		// Legacy names the host still sets.
		"FUNCTIONS_HTTPWORKER_PORT="+p,
		"FUNCTIONS_HTTPWORKER_ID="+id,
		"FUNCTIONS_APP_ROOT_PATH="+h.app.Root,
		"FUNCTIONS_WORKER_RUNTIME=Custom",
		// An inherited PWD would name the host's directory, not the handler's.
		"PWD="+h.app.WorkingDirectory,
	)
}

// readOutput reports each line of r until EOF or until r is closed.
func (h *Host) readOutput(p *process, stream Stream, r io.Reader) {
	br := bufio.NewReaderSize(r, maxLine)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			s := strings.TrimRight(string(line), "\r\n")
			p.tail.add(stream, s)
			h.events.push(Output{Time: time.Now(), PID: p.pid, Stream: stream, Line: s})
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

// waitReady polls GET / every 25 ms until any HTTP answer, as the host does.
// It fails when the process exits first, after timeout, or when ctx ends;
// the caller adds the output tail once the process is gone.
func (h *Host) waitReady(ctx context.Context, p *process, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(readyPollInterval)
	defer tick.Stop()
	for {
		if h.ping(ctx, p) {
			return nil
		}
		select {
		case <-tick.C:
		case <-p.exited:
			return fmt.Errorf("timerhost: the handler (pid %d) exited before answering GET / on port %d: %v", p.pid, p.port, exitReason(p.err))
		case <-deadline.C:
			return fmt.Errorf("timerhost: the handler (pid %d) did not answer GET http://127.0.0.1:%d/ within %s", p.pid, p.port, timeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (h *Host) ping(ctx context.Context, p *process) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.baseURL+"/", nil)
	if err != nil {
		return false
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return true
}

// terminate stops p: SIGTERM to its process group, SIGKILL after grace.
func terminate(p *process, grace time.Duration) {
	termGroup(p)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.exited:
	case <-t.C:
		killGroup(p)
		<-p.exited
	}
}

// kill stops p at once with SIGKILL, as the host does after a function timeout.
func kill(p *process) {
	killGroup(p)
	<-p.exited
}

func exitReason(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// freePort asks the kernel for an unused loopback port, as the host's
// GetUnusedTcpPort does.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("timerhost: finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// lineTail keeps the last tailLines lines of a handler's output.
type lineTail struct {
	mu    sync.Mutex
	lines []string
}

func (t *lineTail) add(stream Stream, line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.lines) == tailLines {
		t.lines = append(t.lines[:0], t.lines[1:]...)
	}
	t.lines = append(t.lines, string(stream)+": "+line)
}

// quote renders the tail for an error message ("" when there was no output).
func (t *lineTail) quote() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.lines) == 0 {
		return " (no output)"
	}
	return "; last output:\n\t" + strings.Join(t.lines, "\n\t")
}
