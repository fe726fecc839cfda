package funchost

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"time"
)

// MaxRequestBytes bounds an invocation request body. A timer payload is a few
// hundred bytes; anything near this is not the host talking.
const MaxRequestBytes = 1 << 20

// InvocationIDHeader carries the host's invocation id.
const InvocationIDHeader = "X-Azure-Functions-InvocationId"

// Result is what a successful (or partly successful) invocation reports.
type Result struct {
	// Logs are returned to the host, which logs them at Information level against
	// the invocation. On failure they are still sent, with the error appended,
	// but the host discards them.
	Logs []string
}

// InvokeFunc runs one invocation. ctx is derived from the host's request and is
// cancelled when the host gives up on it or the server is forced to close;
// InvokeFunc should enforce its own, shorter budget. A non-nil error fails the
// invocation; its text is written to the response and the logs, so it must not
// contain secrets.
type InvokeFunc func(ctx context.Context, inv Invocation) (Result, error)

// Response is the body the handler answers with: Outputs is always an empty
// object and ReturnValue null, since a timer function has neither.
type Response struct {
	Outputs     map[string]json.RawMessage `json:"Outputs"`
	Logs        []string                   `json:"Logs"`
	ReturnValue json.RawMessage            `json:"ReturnValue"`
}

func newResponse(logs []string) Response {
	if logs == nil {
		logs = []string{}
	}
	return Response{Outputs: map[string]json.RawMessage{}, Logs: logs}
}

// functionNameRE is what the host accepts as a function (folder) name.
var functionNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,127}$`)

// NewHandler returns the custom handler's HTTP handler: GET / answers 200 (the
// host's readiness poll), POST /<functionName> runs invoke. Other paths are 404
// and other methods 405. logger receives one line per invocation outcome and
// must not be nil. NewHandler panics on an invalid function name or a nil
// invoke, both programming errors.
func NewHandler(functionName string, invoke InvokeFunc, logger *slog.Logger, opts ...HandlerOption) http.Handler {
	if !functionNameRE.MatchString(functionName) {
		panic(fmt.Sprintf("funchost: invalid function name %q", functionName))
	}
	if invoke == nil || logger == nil {
		panic("funchost: NewHandler needs an InvokeFunc and a logger")
	}
	h := &handler{name: functionName, invoke: invoke, logger: logger, redact: func(s string) string { return s }}
	for _, o := range opts {
		o(h)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", ready)
	mux.Handle("POST /"+functionName, h)
	return mux
}

// ready answers the host's readiness poll. The handler is ready as soon as the
// server accepts connections: nothing is initialised before the first invocation.
func ready(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "ok\n")
}

// HandlerOption configures NewHandler.
type HandlerOption func(*handler)

// WithRedact passes every error message and Logs line the handler writes
// (answers and its own log lines) through redact: the last line of defence
// for a secret in an error, a panic's value included, that the InvokeFunc
// did not get to redact itself.
func WithRedact(redact func(string) string) HandlerOption {
	return func(h *handler) { h.redact = redact }
}

type handler struct {
	name   string
	invoke InvokeFunc
	logger *slog.Logger
	redact func(string) string
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := r.Header.Get(InvocationIDHeader)
	if id == "" {
		id = newInvocationID()
	}
	log := h.logger.With("invocation_id", id, "function", h.name)

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRequestBytes))
	if err != nil {
		status := http.StatusBadRequest
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			status = http.StatusRequestEntityTooLarge
		}
		h.fail(w, log, status, nil, fmt.Errorf("read invocation request: %w", err))
		return
	}
	inv, err := DecodeInvocation(body)
	if err != nil {
		h.fail(w, log, http.StatusBadRequest, nil, err)
		return
	}
	inv.ID, inv.Logger = id, log

	log.Info("invocation started", "is_past_due", inv.Timer.IsPastDue)
	res, err := h.call(r.Context(), inv)
	elapsed := time.Since(start).Round(time.Millisecond)
	if err != nil {
		h.fail(w, log.With("duration", elapsed.String()), http.StatusInternalServerError, res.Logs, err)
		return
	}
	log.Info("invocation succeeded", "duration", elapsed.String())
	h.write(w, log, http.StatusOK, newResponse(h.redactAll(res.Logs)))
}

// call runs invoke, turning a panic into an error so the host gets a 500 with a
// logged reason instead of a dropped connection.
func (h *handler) call(ctx context.Context, inv Invocation) (res Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			inv.Logger.Error("invocation panicked", "stack", string(debug.Stack()))
			err = fmt.Errorf("invocation panicked: %v", p)
		}
	}()
	return h.invoke(ctx, inv)
}

// fail logs err at Error level (the host drops Logs of a failed invocation, so
// this line on stderr is what survives) and answers status with err in Logs.
func (h *handler) fail(w http.ResponseWriter, log *slog.Logger, status int, logs []string, err error) {
	msg := h.redact(err.Error())
	log.Error("invocation failed", "status", status, "error", msg)
	h.write(w, log, status, newResponse(append(h.redactAll(logs), "error: "+msg)))
}

// redactAll returns lines redacted, in a new slice.
func (h *handler) redactAll(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = h.redact(l)
	}
	return out
}

func (h *handler) write(w http.ResponseWriter, log *slog.Logger, status int, resp Response) {
	b, err := json.Marshal(resp)
	if err != nil {
		// Unreachable with these field types; answer something the host can parse.
		log.Error("encode response", "error", err.Error())
		status, b = http.StatusInternalServerError, []byte(`{"Outputs":{},"Logs":["error: encode response"],"ReturnValue":null}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if _, err := w.Write(b); err != nil {
		log.Warn("write response", "error", err.Error())
	}
}

// newInvocationID returns a random UUID (version 4) for runs without a host.
func newInvocationID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
