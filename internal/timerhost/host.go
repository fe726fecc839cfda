package timerhost

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrFunctionTimeout is wrapped by an invocation's error when it ran past
// host.json's functionTimeout and the handler was killed and restarted.
var ErrFunctionTimeout = errors.New("a function timeout has occurred")

// ErrNotRunning is returned by [Host.Invoke] when [Host.Run] is not running
// (not yet called, stopping or returned) or a bounded run took its last
// invocation.
var ErrNotRunning = errors.New("timerhost: the host is not running")

// errBoundedStop is the cancellation cause of a run that ended because
// StopWhen or MaxInvocations said so.
var errBoundedStop = errors.New("timerhost: bounded run complete")

const (
	defaultStopGrace    = 10 * time.Second
	defaultReadyTimeout = 60 * time.Second // the documented custom handler start-up limit
	defaultRestartDelay = 500 * time.Millisecond
	maxRestartDelay     = 15 * time.Second
	// A handler that lived this long before exiting restarts after the
	// initial delay again rather than the backed-off one.
	stableAfter = 30 * time.Second
	// maxStartFailures consecutive failed restarts end the run.
	maxStartFailures = 5
	// maxReply bounds the invocation reply the host reads.
	maxReply = 16 << 20
	// replyTail is how much of a failed reply's body an error quotes.
	replyTail = 1024
)

// Options configures a [Host]. The zero value runs until the context ends.
type Options struct {
	// OnEvent receives every event in order, from a single goroutine, never
	// concurrently. It may block (the host queues events meanwhile) and may
	// call Host methods. Run returns only after the last call returned.
	OnEvent func(Event)
	// Logger receives the host's own diagnostics (start-up, restarts,
	// timeouts, invocation outcomes). Nil discards them; the events carry
	// the same information.
	Logger *slog.Logger

	// StopWhen, when set, is called with every finished invocation (timer or
	// manual) before the next invocation of that function starts; returning
	// true ends the run cleanly (Run returns nil). With several timer
	// functions it may be called concurrently.
	StopWhen func(InvocationFinished) bool
	// MaxInvocations, when positive, ends the run cleanly once that many
	// invocations (timer and manual) have finished; no more are started.
	MaxInvocations int

	// StopGrace is how long a stopping handler may take after SIGTERM before
	// SIGKILL. Default 10 s.
	StopGrace time.Duration
	// ReadyTimeout is how long a new handler has to answer GET /. Default 60 s.
	ReadyTimeout time.Duration
	// RestartDelay is the first delay before restarting a handler that
	// exited on its own; it doubles while the handler keeps dying young.
	// Default 500 ms.
	RestartDelay time.Duration
}

// Host runs one [App]'s handler and timer functions. Create it with [New],
// run it once with [Host.Run]; [Host.Invoke] triggers extra invocations
// while it runs.
type Host struct {
	app       *App
	opts      Options
	log       *slog.Logger
	transport *http.Transport
	client    *http.Client
	fns       []*fnState
	events    *eventQueue

	mu       sync.Mutex
	state    hostState
	runCtx   context.Context         // ends when the run starts stopping
	stop     context.CancelCauseFunc // cancels runCtx
	reqCtx   context.Context         // ends once the handler is gone for good
	cur      *process                // the ready handler, nil while (re)starting
	ready    chan struct{}           // closed when cur is set or the handler is gone for good
	gone     bool                    // the supervisor returned
	started  int                     // invocations reserved
	finished int                     // invocations finished
	manual   sync.WaitGroup          // Invoke calls in progress
}

type hostState int

const (
	stateNew hostState = iota
	stateRunning
	stateStopped
)

// fnState is a function's schedule status and its invocation lock.
type fnState struct {
	Function
	sem chan struct{} // holds a token while an invocation of the function runs

	// Written only by the function's scheduler goroutine while holding sem.
	last, next, lastUpdated time.Time
}

func (f *fnState) tryLock() bool {
	select {
	case f.sem <- struct{}{}:
		return true
	default:
		return false
	}
}

func (f *fnState) lock(ctx context.Context) bool {
	select {
	case f.sem <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (f *fnState) unlock() { <-f.sem }

// scheduleStatus returns the payload's ScheduleStatus (nil without the
// monitor). The caller holds f.sem.
func (f *fnState) scheduleStatus() *scheduleStatus {
	if !f.UseMonitor {
		return nil
	}
	return &scheduleStatus{Last: dotnetTime(f.last), Next: dotnetTime(f.next), LastUpdated: dotnetTime(f.lastUpdated)}
}

// New prepares a host for app; nothing starts until [Host.Run].
func New(app *App, opts Options) (*Host, error) {
	if app == nil || len(app.Functions) == 0 {
		return nil, errors.New("timerhost: the app has no timer functions")
	}
	if opts.StopGrace <= 0 {
		opts.StopGrace = defaultStopGrace
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = defaultReadyTimeout
	}
	if opts.RestartDelay <= 0 {
		opts.RestartDelay = defaultRestartDelay
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	transport := &http.Transport{
		Proxy:              nil, // the handler is on loopback; never a proxy
		DialContext:        (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		DisableCompression: true,
		IdleConnTimeout:    90 * time.Second,
	}
	client := &http.Client{
		Transport: transport,
		// Any answer counts, redirects included.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if app.FunctionTimeout > 0 {
		// The host's HttpClient timeout: a backstop behind functionTimeout.
		client.Timeout = app.FunctionTimeout + time.Minute
	}
	h := &Host{app: app, opts: opts, log: log, transport: transport, client: client, events: newEventQueue(opts.OnEvent)}
	for _, f := range app.Functions {
		h.fns = append(h.fns, &fnState{Function: f, sem: make(chan struct{}, 1)})
	}
	return h, nil
}

// Run starts the handler, waits until it is ready, then invokes the timer
// functions on their schedules until ctx ends, a bounded run completes
// (Options.StopWhen or Options.MaxInvocations), or the handler cannot be
// (re)started. It blocks until everything it started has stopped: the
// handler got SIGTERM and, after Options.StopGrace, SIGKILL (its whole
// process group); an invocation in flight gets the handler's answer or
// fails with it.
//
// Run returns nil when a bounded run completed, ctx.Err() when ctx ended,
// and otherwise the start-up error (quoting the handler's last output). A
// Host runs once; a second call returns an error.
func (h *Host) Run(ctx context.Context) error {
	h.mu.Lock()
	if h.state != stateNew {
		h.mu.Unlock()
		return errors.New("timerhost: Run called more than once")
	}
	runCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	// In-flight requests outlive the stop signal: the handler gets its
	// SIGTERM grace to answer them, as under the Functions host.
	reqCtx, endRequests := context.WithCancel(context.WithoutCancel(runCtx))
	defer endRequests()
	h.state, h.runCtx, h.stop, h.reqCtx = stateRunning, runCtx, stop, reqCtx
	h.ready = make(chan struct{})
	h.mu.Unlock()

	go h.events.run()

	firstReady := make(chan struct{})
	supervisorDone := make(chan struct{})
	var supervisorErr error
	go func() {
		defer close(supervisorDone)
		supervisorErr = h.supervise(runCtx, firstReady)
		h.handlerGone()
		endRequests()
	}()

	var schedulers sync.WaitGroup
	select {
	case <-firstReady:
		for _, fn := range h.fns {
			schedulers.Go(func() { h.schedule(runCtx, fn) })
		}
	case <-supervisorDone:
	}
	select {
	case <-runCtx.Done():
	case <-supervisorDone:
	}

	h.mu.Lock()
	h.state = stateStopped
	h.mu.Unlock()
	stop(errors.New("timerhost: stopping"))
	<-supervisorDone
	schedulers.Wait()
	h.manual.Wait()
	h.transport.CloseIdleConnections()
	h.events.close()

	switch {
	case supervisorErr != nil:
		return supervisorErr
	case errors.Is(context.Cause(runCtx), errBoundedStop):
		return nil
	default:
		return ctx.Err()
	}
}

// Invoke runs the named function now, as the host's admin API does (an
// empty name selects the app's only function), and returns its outcome; the
// error is the invocation's Err or why it could not run. It waits while
// another invocation of the function runs (never two at once) and while the
// handler (re)starts; ctx bounds the wait and the request. It is valid
// only while Run runs (ErrNotRunning otherwise) and counts towards
// Options.MaxInvocations and Options.StopWhen.
func (h *Host) Invoke(ctx context.Context, function string) (InvocationFinished, error) {
	f, err := h.app.Function(function)
	if err != nil {
		return InvocationFinished{}, err
	}
	var fn *fnState
	for _, s := range h.fns {
		if s.Name == f.Name {
			fn = s
		}
	}
	h.mu.Lock()
	if h.state != stateRunning {
		h.mu.Unlock()
		return InvocationFinished{}, ErrNotRunning
	}
	h.manual.Add(1)
	runCtx, reqCtx := h.runCtx, h.reqCtx
	h.mu.Unlock()
	defer h.manual.Done()

	waitCtx, cancelWait := context.WithCancel(ctx)
	defer cancelWait()
	defer context.AfterFunc(runCtx, cancelWait)()
	if !fn.lock(waitCtx) {
		if ctx.Err() != nil {
			return InvocationFinished{}, ctx.Err()
		}
		return InvocationFinished{}, ErrNotRunning
	}
	if !h.reserve() {
		fn.unlock()
		return InvocationFinished{}, fmt.Errorf("%w (stopping or invocation limit reached)", ErrNotRunning)
	}
	invCtx, cancelInv := context.WithCancel(ctx)
	defer cancelInv()
	defer context.AfterFunc(reqCtx, cancelInv)()
	ev, ok := h.invoke(invCtx, fn, fn.scheduleStatus(), false, true)
	fn.unlock()
	if !ok {
		h.unreserve()
		return ev, ev.Err
	}
	h.account(ev)
	return ev, ev.Err
}

// supervise keeps a ready handler published in h.cur until ctx ends. It
// closes firstReady when the first handler is ready and returns an error
// only when the handler cannot be started.
func (h *Host) supervise(ctx context.Context, firstReady chan<- struct{}) error {
	delay := h.opts.RestartDelay
	failures := 0
	everReady := false
	for {
		p, err := h.startProcess()
		if err == nil {
			if err = h.waitReady(ctx, p, h.opts.ReadyTimeout); err != nil {
				kill(p)
				err = fmt.Errorf("%w%s", err, p.tail.quote())
			}
		}
		if err != nil {
			pid := 0
			if p != nil {
				pid = p.pid
			}
			if ctx.Err() != nil {
				if p != nil {
					h.events.push(HandlerExited{Time: time.Now(), PID: pid, Err: p.err})
				}
				return nil
			}
			failures++
			fatal := !everReady || failures >= maxStartFailures
			h.events.push(HandlerExited{Time: time.Now(), PID: pid, Err: err, Restarting: !fatal})
			h.log.Error("handler start failed", "pid", pid, "err", err, "restarting", !fatal)
			if fatal {
				return err
			}
			if !sleepCtx(ctx, delay) {
				return nil
			}
			delay = min(2*delay, maxRestartDelay)
			continue
		}

		everReady, failures = true, 0
		readyAfter := time.Since(p.started)
		h.publish(p)
		if firstReady != nil {
			close(firstReady)
			firstReady = nil
		}
		h.events.push(HandlerStarted{Time: time.Now(), PID: p.pid, Port: p.port, ReadyAfter: readyAfter})
		h.log.Info("handler started", "pid", p.pid, "port", p.port, "readyAfter", readyAfter)

		select {
		case <-p.exited:
			h.retire(p)
			restarting := ctx.Err() == nil
			h.events.push(HandlerExited{Time: time.Now(), PID: p.pid, Err: p.err, Restarting: restarting})
			h.log.Warn("handler exited", "pid", p.pid, "err", exitReason(p.err), "restarting", restarting)
			if !restarting {
				return nil
			}
			if time.Since(p.started) > stableAfter {
				delay = h.opts.RestartDelay
			}
			if !sleepCtx(ctx, delay) {
				return nil
			}
			delay = min(2*delay, maxRestartDelay)
		case <-p.killReq:
			h.retire(p)
			kill(p)
			restarting := ctx.Err() == nil
			h.events.push(HandlerExited{Time: time.Now(), PID: p.pid,
				Err: fmt.Errorf("%w: the handler was killed", ErrFunctionTimeout), Restarting: restarting})
			if !restarting {
				return nil
			}
			// The host restarts a timed-out worker at once.
		case <-ctx.Done():
			h.retire(p)
			terminate(p, h.opts.StopGrace)
			h.events.push(HandlerExited{Time: time.Now(), PID: p.pid, Err: p.err})
			h.log.Info("handler stopped", "pid", p.pid, "err", exitReason(p.err))
			return nil
		}
	}
}

// publish makes p the handler invocations go to.
func (h *Host) publish(p *process) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cur = p
	close(h.ready)
}

// retire stops sending invocations to p; it is idempotent.
func (h *Host) retire(p *process) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cur == p {
		h.cur = nil
		h.ready = make(chan struct{})
	}
}

// handlerGone wakes everyone waiting for a handler: none will come.
func (h *Host) handlerGone() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.gone = true
	if h.cur == nil {
		close(h.ready)
	}
	h.cur = nil
}

// currentProcess waits for a ready handler.
func (h *Host) currentProcess(ctx context.Context) (*process, error) {
	for {
		h.mu.Lock()
		p, ready, gone := h.cur, h.ready, h.gone
		h.mu.Unlock()
		switch {
		case p != nil:
			return p, nil
		case gone:
			return nil, ErrNotRunning
		}
		select {
		case <-ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// schedule invokes fn at each occurrence until ctx ends. Like the host's
// TimerListener it keeps a schedule status (Last, Next, LastUpdated), runs
// one invocation at a time, and after an invocation that overran later
// occurrences runs once at once, here with IsPastDue set.
func (h *Host) schedule(ctx context.Context, fn *fnState) {
	if !fn.lock(ctx) {
		return
	}
	fn.next = fn.Schedule.Next(time.Now())
	fn.unlock()
	startup, catchUp := fn.RunOnStartup, false
	for ctx.Err() == nil {
		due := fn.next
		if !startup && !catchUp {
			if due.IsZero() {
				h.log.Warn("the schedule has no occurrence within five years", "function", fn.Name, "schedule", fn.Schedule.String())
				<-ctx.Done()
				return
			}
			if !sleepUntil(ctx, due) {
				return
			}
		}
		pastDue := catchUp
		if !fn.tryLock() {
			// A manual invocation holds the function: this occurrence runs late.
			if !fn.lock(ctx) {
				return
			}
			pastDue = !startup
		}
		if !h.reserve() {
			fn.unlock()
			return
		}
		invoked := time.Now()
		ev, ok := h.invoke(h.reqCtx, fn, fn.scheduleStatus(), pastDue, false)
		// The status moves on whether or not the invocation succeeded. An
		// on-time run that fired early counts from its occurrence so that the
		// same occurrence is never due twice.
		base := invoked
		if !pastDue && !startup && due.After(base) {
			base = due
		}
		fn.last, fn.lastUpdated, fn.next = base, base, fn.Schedule.Next(base)
		end := time.Now()
		fn.unlock()
		if !ok {
			h.unreserve()
			return
		}
		h.account(ev)
		startup = false
		catchUp = !fn.next.IsZero() && !fn.next.After(end)
	}
}

// reserve counts an invocation about to start; false means none may start.
func (h *Host) reserve() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.state != stateRunning || h.runCtx.Err() != nil {
		return false
	}
	if h.opts.MaxInvocations > 0 && h.started >= h.opts.MaxInvocations {
		return false
	}
	h.started++
	return true
}

func (h *Host) unreserve() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.started--
}

// account counts a finished invocation and ends a bounded run when it is done.
func (h *Host) account(ev InvocationFinished) {
	done := h.opts.StopWhen != nil && h.opts.StopWhen(ev)
	h.mu.Lock()
	h.finished++
	if h.opts.MaxInvocations > 0 && h.finished >= h.opts.MaxInvocations {
		done = true
	}
	stop := h.stop
	h.mu.Unlock()
	if done {
		stop(errBoundedStop)
	}
}

// Invocation outcomes as seen by the functionTimeout watchdog.
const (
	invRunning int32 = iota
	invDone
	invTimedOut
)

// invoke sends one invocation and reports it; ok is false when it never
// started because no handler will come (the host is stopping).
func (h *Host) invoke(ctx context.Context, fn *fnState, status *scheduleStatus, pastDue, manual bool) (ev InvocationFinished, ok bool) {
	ev = InvocationFinished{ID: newGUID(), Function: fn.Name, PastDue: pastDue, Manual: manual}
	p, err := h.currentProcess(ctx)
	if err != nil {
		ev.Time, ev.Err = time.Now(), err
		return ev, false
	}
	start := time.Now()
	h.events.push(InvocationStarted{Time: start, ID: ev.ID, Function: fn.Name, PastDue: pastDue, Manual: manual})

	reqCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var outcome atomic.Int32
	timedOut := make(chan struct{}) // closed once the watchdog has acted
	if ft := h.app.FunctionTimeout; ft > 0 {
		watchdog := time.AfterFunc(ft, func() {
			if !outcome.CompareAndSwap(invRunning, invTimedOut) {
				return
			}
			defer close(timedOut)
			h.events.push(Timeout{Time: time.Now(), ID: ev.ID, Function: fn.Name, After: ft})
			h.log.Error("A function timeout has occurred. Restarting worker process executing invocationId '"+ev.ID+"'.",
				"function", fn.Name, "functionTimeout", formatTimeSpan(ft))
			// No new invocation may reach the doomed process.
			h.retire(p)
			p.requestKill()
			cancel()
		})
		defer watchdog.Stop()
	}

	body, err := timerPayload(fn.Function, status, pastDue, start)
	if err == nil {
		ev.Status, ev.Logs, err = h.post(reqCtx, p, fn.Name, ev.ID, body)
	}
	if !outcome.CompareAndSwap(invRunning, invDone) {
		<-timedOut // report the Timeout event first
		ev.Status, ev.Logs = 0, nil
		err = fmt.Errorf("%w: invocation %s ran longer than functionTimeout %s; the handler was restarted",
			ErrFunctionTimeout, ev.ID, formatTimeSpan(h.app.FunctionTimeout))
	}
	ev.Err = err
	ev.Duration = time.Since(start)
	ev.Time = time.Now()
	h.events.push(ev)
	if err != nil {
		h.log.Warn("invocation failed", "function", fn.Name, "id", ev.ID, "status", ev.Status, "duration", ev.Duration, "err", err)
	} else {
		h.log.Info("invocation succeeded", "function", fn.Name, "id", ev.ID, "duration", ev.Duration, "logs", len(ev.Logs))
	}
	return ev, true
}

// post sends the invocation request as the host does and reads the reply:
// a 2xx carries {Outputs, Logs, ReturnValue}; any other status fails the
// invocation and its Logs are dropped.
func (h *Host) post(ctx context.Context, p *process, function, id string, body []byte) (status int, logs []string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.baseURL+"/"+function, bytes.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("timerhost: %w", err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("X-Azure-Functions-InvocationId", id)
	req.Header.Set("X-Azure-Functions-HostVersion", HostVersion)
	req.Header.Set("User-Agent", "Azure-Functions-Host/"+HostVersion)
	req.Header.Set("traceparent", traceparent())
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("POST /%s: %w", function, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("POST /%s: reading the reply: %w", function, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, nil, fmt.Errorf("response status code does not indicate success: %d (%s); body: %s",
			resp.StatusCode, http.StatusText(resp.StatusCode), bodyTail(b))
	}
	var r *invocationResponse
	if err := json.Unmarshal(b, &r); err != nil || r == nil {
		if err == nil {
			err = errors.New("no JSON object")
		}
		return resp.StatusCode, nil, fmt.Errorf("invalid HttpResponseMessage (want {\"Outputs\",\"Logs\",\"ReturnValue\"}): %w; body: %s", err, bodyTail(b))
	}
	return resp.StatusCode, r.Logs, nil
}

func bodyTail(b []byte) string {
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "(empty)"
	}
	if len(s) > replyTail {
		s = "..." + s[len(s)-replyTail:]
	}
	return strings.ToValidUTF8(s, "?")
}

// sleepCtx waits d; false means ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// sleepUntil waits until the wall clock reaches t; false means ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	return sleepCtx(ctx, time.Until(t))
}
