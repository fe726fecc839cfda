package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// usage is what the kernel accounted to an exited process.
type usage struct {
	CPU    time.Duration // user + system
	User   time.Duration
	System time.Duration
	MaxRSS int64 // peak resident set, bytes
	Wall   time.Duration
}

// usageOf reads the CPU times of an exited process from its rusage. Its
// peak RSS comes from the caller, read from the process's VmHWM while it
// ran: ru_maxrss cannot serve, because Go starts children with
// vfork (CLONE_VM), and exec records the parent's peak RSS in the child's
// ru_maxrss.
func usageOf(ps *os.ProcessState, wall time.Duration, peakRSS int64) (usage, error) {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok || ru == nil {
		return usage{}, errors.New("no rusage for the process (not Linux?)")
	}
	u := usage{
		User:   time.Duration(ru.Utime.Nano()),
		System: time.Duration(ru.Stime.Nano()),
		MaxRSS: peakRSS,
		Wall:   wall,
	}
	u.CPU = u.User + u.System
	return u, nil
}

// handlerProc is a running handler binary.
type handlerProc struct {
	cmd     *exec.Cmd
	url     string
	started time.Time
	out     *tailWriter
	done    chan struct{} // closed once Wait returned
	waitErr error
	client  *http.Client
}

// bareEnv is the environment both measured programs start with: PATH, HOME
// and extra, so that neither sees the bench's own GOGC, GOMAXPROCS or
// GODEBUG, and both see the same.
func bareEnv(extra ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, extra...)
}

// startHandler runs bin as the Functions host does: a free loopback port in
// FUNCTIONS_CUSTOMHANDLER_PORT, the app root (repo) as working directory and
// FUNCTIONS_APP_ROOT_PATH, and the settings in env.
func startHandler(bin, repo string, env []string, verbose io.Writer) (*handlerProc, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		return nil, err
	}
	full := bareEnv(
		fmt.Sprintf("FUNCTIONS_CUSTOMHANDLER_PORT=%d", port),
		"FUNCTIONS_APP_ROOT_PATH="+repo,
	)
	p := &handlerProc{
		url:  fmt.Sprintf("http://127.0.0.1:%d", port),
		out:  &tailWriter{max: 16 << 10, copy: verbose},
		done: make(chan struct{}),
		// Invocations last as long as the run budget: no client timeout.
		client: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}},
	}
	p.cmd = exec.Command(bin)
	p.cmd.Dir = repo
	p.cmd.Env = append(full, env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the handler: %w", err)
	}
	go func() { p.waitErr = p.cmd.Wait(); close(p.done) }()
	return p, nil
}

// waitReady polls GET / every millisecond until it answers 200, and returns
// the time from the process's start.
func (p *handlerProc) waitReady(ctx context.Context, timeout time.Duration) (time.Duration, error) {
	deadline := p.started.Add(timeout)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url+"/", nil)
		if err != nil {
			return 0, err
		}
		resp, err := p.client.Do(req)
		if err == nil {
			took := time.Since(p.started)
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return 0, fmt.Errorf("GET / answered %d, want 200:\n%s", resp.StatusCode, p.out)
			}
			return took, nil
		}
		select {
		case <-p.done:
			return 0, fmt.Errorf("the handler exited before it was ready (%v):\n%s", p.waitErr, p.out)
		case <-ctx.Done():
			return 0, ctx.Err()
		default:
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("the handler did not answer GET / within %s:\n%s", timeout, p.out)
		}
		time.Sleep(time.Millisecond)
	}
}

// timerPayload is a timer invocation as the Functions host posts it.
const timerPayload = `{"Data":{"timer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":{"Last":"0001-01-01T00:00:00","Next":"2026-05-01T00:05:00+00:00","LastUpdated":"0001-01-01T00:00:00"},"IsPastDue":false}},"Metadata":{"sys":{"MethodName":"MCASTimerTrigger","UtcNow":"2026-05-01T00:00:00.0000000Z","RandGuid":"8d4b7d1e-6f6e-4d43-9a55-1f0f2d3c4b5a"}}}`

// invocation is what the host saw of one invocation.
type invocation struct {
	Status int
	Logs   []string
	Took   time.Duration
}

func (i invocation) summary() string { return strings.Join(i.Logs, " | ") }

// moreToDo reports whether the run stopped at its budget or found the lease taken.
func (i invocation) moreToDo() bool {
	s := i.summary()
	return strings.Contains(s, "more to do: yes") || strings.Contains(s, "skipped:")
}

// invocationSeq numbers the invocations for their ids.
var invocationSeq atomic.Int64

// invoke posts one timer invocation and waits for its answer.
func (p *handlerProc) invoke(ctx context.Context) (invocation, error) {
	id := fmt.Sprintf("bench-%d-%d", os.Getpid(), invocationSeq.Add(1))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url+"/MCASTimerTrigger", strings.NewReader(timerPayload))
	if err != nil {
		return invocation{}, err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("X-Azure-Functions-InvocationId", id)
	start := time.Now()
	resp, err := p.client.Do(req)
	if err != nil {
		return invocation{}, fmt.Errorf("invoke the handler: %w\n%s", err, p.out)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return invocation{}, fmt.Errorf("read the invocation's answer: %w", err)
	}
	inv := invocation{Status: resp.StatusCode, Took: time.Since(start)}
	var out struct{ Logs []string }
	if err := json.Unmarshal(body, &out); err != nil {
		return inv, fmt.Errorf("invocation answered %d with a body that is not the protocol's JSON: %.300q", resp.StatusCode, body)
	}
	inv.Logs = out.Logs
	return inv, nil
}

// drain invokes until a run reports nothing more to do, and returns how many
// invocations it took. Any failed invocation is an error.
func (p *handlerProc) drain(ctx context.Context, maxRuns int) (int, error) {
	for n := 1; n <= maxRuns; n++ {
		inv, err := p.invoke(ctx)
		if err != nil {
			return n, err
		}
		if inv.Status != http.StatusOK {
			return n, fmt.Errorf("invocation %d failed with %d: %s\nhandler output:\n%s", n, inv.Status, inv.summary(), p.out)
		}
		if !inv.moreToDo() {
			return n, nil
		}
	}
	return maxRuns, fmt.Errorf("still more to do after %d invocations", maxRuns)
}

// stop reads the process's peak RSS (VmHWM), sends SIGTERM, waits for the
// exit (SIGKILL after grace) and returns its usage. The handler exits at
// once when no run is in progress.
func (p *handlerProc) stop(grace time.Duration) (usage, error) {
	peak := procStatusKB(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid), "VmHWM:") * 1024
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
		return usage{}, fmt.Errorf("the handler did not exit within %s of SIGTERM:\n%s", grace, p.out)
	}
	return usageOf(p.cmd.ProcessState, time.Since(p.started), peak)
}

// kill ends the process if it still runs; for error paths.
func (p *handlerProc) kill() {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// tailWriter keeps the last max bytes written, optionally copying them on.
type tailWriter struct {
	mu   sync.Mutex
	buf  []byte
	max  int
	copy io.Writer
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.copy != nil {
		_, _ = t.copy.Write(p)
	}
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailWriter) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
