package timerhost

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// Event is something the host did or saw. The concrete types are
// [HandlerStarted], [HandlerExited], [InvocationStarted],
// [InvocationFinished], [Timeout] and [Output]; String renders a one-line,
// host-like description for a terminal UI.
type Event interface {
	fmt.Stringer
	isEvent()
}

// HandlerStarted reports a handler process that answered GET / and now
// receives invocations.
type HandlerStarted struct {
	Time       time.Time
	PID        int
	Port       int
	ReadyAfter time.Duration // from process start to the first HTTP answer
}

// HandlerExited reports a handler process that is gone: it exited on its own,
// never became ready, was killed after a function timeout, or was stopped
// with the host. Err is the reason (nil for a clean exit with status 0).
// Restarting tells whether the host starts a new process.
type HandlerExited struct {
	Time       time.Time
	PID        int // 0 when the executable could not be started at all
	Err        error
	Restarting bool
}

// InvocationStarted reports a POST /<Function> about to be sent.
type InvocationStarted struct {
	Time     time.Time
	ID       string // the X-Azure-Functions-InvocationId header
	Function string
	PastDue  bool // the payload's IsPastDue
	Manual   bool // started by [Host.Invoke], not by the schedule
}

// InvocationFinished reports the outcome of an invocation. Status is the
// HTTP status (0 when no answer came). Logs are the reply's Logs, reported
// only for a 2xx reply as the host does. Err is nil exactly when the
// invocation succeeded.
type InvocationFinished struct {
	Time     time.Time
	ID       string
	Function string
	PastDue  bool
	Manual   bool
	Duration time.Duration
	Status   int
	Logs     []string
	Err      error
}

// Timeout reports an invocation that ran past host.json's functionTimeout;
// the host kills and restarts the handler, and the invocation fails with
// [ErrFunctionTimeout].
type Timeout struct {
	Time     time.Time
	ID       string
	Function string
	After    time.Duration // the functionTimeout
}

// Stream names the handler output stream a line came from.
type Stream string

// The handler's output streams.
const (
	Stdout Stream = "stdout"
	Stderr Stream = "stderr"
)

// Output is one line the handler process wrote, without its line ending.
type Output struct {
	Time   time.Time
	PID    int
	Stream Stream
	Line   string
}

func (HandlerStarted) isEvent()     {}
func (HandlerExited) isEvent()      {}
func (InvocationStarted) isEvent()  {}
func (InvocationFinished) isEvent() {}
func (Timeout) isEvent()            {}
func (Output) isEvent()             {}

func (e HandlerStarted) String() string {
	return fmt.Sprintf("Worker process started and initialized (pid %d, port %d, ready after %s).",
		e.PID, e.Port, e.ReadyAfter.Round(time.Millisecond))
}

func (e HandlerExited) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Worker process exited (pid %d)", e.PID)
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	if e.Restarting {
		b.WriteString("; restarting")
	}
	b.WriteString(".")
	return b.String()
}

func (e InvocationStarted) String() string {
	reason := "Timer fired at " + e.Time.UTC().Format(time.RFC3339Nano)
	switch {
	case e.Manual:
		reason = "This function was programmatically called via the host APIs."
	case e.PastDue:
		reason += " (past due)"
	}
	return fmt.Sprintf("Executing 'Functions.%s' (Reason='%s', Id=%s)", e.Function, reason, e.ID)
}

func (e InvocationFinished) String() string {
	result := "Succeeded"
	if e.Err != nil {
		result = "Failed"
	}
	s := fmt.Sprintf("Executed 'Functions.%s' (%s, Id=%s, Duration=%dms)", e.Function, result, e.ID, e.Duration.Milliseconds())
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e Timeout) String() string {
	return fmt.Sprintf("Timeout value of %s exceeded by function 'Functions.%s' (Id: '%s'). A function timeout has occurred. Restarting worker process executing invocationId '%s'.",
		formatTimeSpan(e.After), e.Function, e.ID, e.ID)
}

func (e Output) String() string { return string(e.Stream) + ": " + e.Line }

// formatTimeSpan writes a duration as a .NET TimeSpan ("00:05:00").
func formatTimeSpan(d time.Duration) string {
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	s := fmt.Sprintf("%02d:%02d:%02d", d/time.Hour, d%time.Hour/time.Minute, d%time.Minute/time.Second)
	if days > 0 {
		s = fmt.Sprintf("%d.%s", days, s)
	}
	return s
}

// eventQueue delivers events to a callback in order from one goroutine
// without ever blocking the producer, so a slow UI cannot stall invocations
// or the handler's output pipes.
type eventQueue struct {
	fn   func(Event)
	wake chan struct{}
	done chan struct{}

	mu     sync.Mutex
	items  []Event
	closed bool
}

func newEventQueue(fn func(Event)) *eventQueue {
	return &eventQueue{fn: fn, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// push queues e; after close it is dropped.
func (q *eventQueue) push(e Event) {
	if q.fn == nil {
		return
	}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.items = append(q.items, e)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// run delivers events until close is called and the queue is drained.
func (q *eventQueue) run() {
	defer close(q.done)
	for {
		q.mu.Lock()
		items, closed := q.items, q.closed
		q.items = nil
		q.mu.Unlock()
		for _, e := range items {
			q.fn(e)
		}
		if closed && len(items) == 0 {
			return
		}
		if len(items) == 0 {
			<-q.wake
		}
	}
}

// close stops accepting events and waits until run delivered the last one.
func (q *eventQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	<-q.done
}
