// Package fault injects the failures real services produce (throttling, error
// pages, truncated bodies, dropped connections) into the local stand-ins, so
// tests can check that every one of them fails loudly and loses nothing.
package fault

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Kind names a failure.
type Kind int

const (
	// None lets the request through.
	None Kind = iota
	// Status answers with Status (and RetryAfter, Body when set) instead of serving.
	Status
	// HTMLPage answers Status (200 when zero) with an HTML error page, as a proxy or gateway would.
	HTMLPage
	// Truncate serves the request but cuts the response body in half and drops the connection.
	Truncate
	// Reset drops the connection before any response is written.
	Reset
	// AcceptThenReset serves the request completely (its effects happen) but drops
	// the connection instead of answering: the client cannot know it succeeded.
	AcceptThenReset
	// Delay waits Delay before serving the request normally.
	Delay
)

func (k Kind) String() string {
	switch k {
	case None:
		return "none"
	case Status:
		return "status"
	case HTMLPage:
		return "html-page"
	case Truncate:
		return "truncate"
	case Reset:
		return "reset"
	case AcceptThenReset:
		return "accept-then-reset"
	case Delay:
		return "delay"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Fault is one injected failure.
type Fault struct {
	Kind       Kind
	Status     int           // for Status and HTMLPage
	RetryAfter string        // Retry-After header value, for Status
	Body       string        // response body, for Status
	Delay      time.Duration // for Delay
}

func (f Fault) String() string {
	switch f.Kind {
	case Status:
		return fmt.Sprintf("status %d (retry-after %q)", f.Status, f.RetryAfter)
	case Delay:
		return fmt.Sprintf("delay %s", f.Delay)
	}
	return f.Kind.String()
}

// Plan decides which requests fail: first the queued faults in order, then,
// with probability Rate, one drawn at random from Pool. Safe for concurrent use.
type Plan struct {
	mu    sync.Mutex
	queue []Fault
	rate  float64
	pool  []Fault
	rng   *rand.Rand
	fired []Fault
}

// Push queues faults for the next requests, one each.
func (p *Plan) Push(fs ...Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.queue = append(p.queue, fs...)
}

// SetRandom makes a fraction rate of later requests fail with a fault drawn
// from pool, reproducibly for a given seed. A rate of 0 turns it off.
func (p *Plan) SetRandom(rate float64, seed uint64, pool ...Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rate, p.pool = rate, pool
	p.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// Next returns the fault for the next request (Kind None when it should pass).
func (p *Plan) Next() Fault {
	if p == nil {
		return Fault{}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var f Fault
	switch {
	case len(p.queue) > 0:
		f, p.queue = p.queue[0], p.queue[1:]
	case p.rate > 0 && len(p.pool) > 0 && p.rng.Float64() < p.rate:
		f = p.pool[p.rng.IntN(len(p.pool))]
	}
	if f.Kind != None {
		p.fired = append(p.fired, f)
	}
	return f
}

// Fired returns the faults injected so far.
func (p *Plan) Fired() []Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Fault(nil), p.fired...)
}

// Pending reports how many queued faults have not fired yet.
func (p *Plan) Pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queue)
}

// Before applies the faults that replace the response (Status, HTMLPage, Reset)
// and waits out a Delay. It reports whether the response has been handled.
func Before(w http.ResponseWriter, f Fault) bool {
	switch f.Kind {
	case Status:
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		body := f.Body
		if body == "" {
			body = fmt.Sprintf(`{"error":{"code":"Injected%d","message":"injected status %d"}}`, f.Status, f.Status)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.Status)
		_, _ = w.Write([]byte(body))
		return true
	case HTMLPage:
		status := f.Status
		if status == 0 {
			status = http.StatusOK
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, "<!DOCTYPE html><html><head><title>%d</title></head><body><h1>Service unavailable</h1><p>The gateway could not complete your request.</p></body></html>", status)
		return true
	case Reset:
		Drop(w)
		return true
	case Delay:
		time.Sleep(f.Delay)
	}
	return false
}

// Respond writes a successful response, unless the fault corrupts it
// (Truncate, AcceptThenReset): the request's effects have already happened.
func Respond(w http.ResponseWriter, f Fault, status int, contentType string, body []byte) {
	switch f.Kind {
	case AcceptThenReset:
		Drop(w)
		return
	case Truncate:
		conn, buf, err := hijack(w)
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(buf, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", status, http.StatusText(status), contentType, len(body))
		_, _ = buf.Write(body[:len(body)/2])
		_ = buf.Flush()
		return
	}
	if contentType != "" {
		w.Header().Set("Content-Type", contentType)
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// Drop closes the connection without answering, with a TCP reset where possible.
func Drop(w http.ResponseWriter) {
	conn, _, err := hijack(w)
	if err != nil {
		return
	}
	if tc, ok := underlyingTCP(conn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

func hijack(w http.ResponseWriter) (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		// HTTP/2 cannot be hijacked: panicking with ErrAbortHandler makes the
		// server reset the stream, the closest equivalent.
		panic(http.ErrAbortHandler)
	}
	return hj.Hijack()
}

func underlyingTCP(c net.Conn) (*net.TCPConn, bool) {
	type netConner interface{ NetConn() net.Conn }
	for {
		switch v := c.(type) {
		case *net.TCPConn:
			return v, true
		case netConner:
			c = v.NetConn()
		default:
			return nil, false
		}
	}
}
