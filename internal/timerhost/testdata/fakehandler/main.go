// Command fakehandler is a custom handler for the timerhost tests. It speaks
// the custom handler protocol and misbehaves on request, driven by
// environment variables (normally set through the test app's
// local.settings.json):
//
//	FAKE_DIR           directory for its records (required)
//	FAKE_SLOW          "seq=duration,..." (or "*=duration"): sleep before answering
//	FAKE_FAIL          "seq,...": answer 500
//	FAKE_CRASH         "seq,...": exit with status 3 on receiving the invocation
//	FAKE_DONE_AT       seq: from that invocation on, Logs say "nothing more to do"
//	FAKE_EXIT_AFTER    duration: the first process started exits with status 2 that long after its first GET /
//	FAKE_EXIT_AT_START "1": write to stderr and exit 1 before listening
//	FAKE_NO_LISTEN     "1": never listen
//	FAKE_IGNORE_TERM   "1": ignore SIGTERM
//	FAKE_SPAWN         "1": start a child that ignores SIGTERM and sleeps; its pid goes to FAKE_DIR/grandchild.<pid>
//
// seq numbers invocations from 1 across handler restarts. Records:
// FAKE_DIR/requests.jsonl gets a "start" and an "end" line per request,
// FAKE_DIR/start.<pid>.json the process's arguments, working directory and
// environment.
package main

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
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	if os.Getenv("FAKE_ROLE") == "sleeper" {
		signal.Ignore(syscall.SIGTERM)
		time.Sleep(time.Hour)
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "fakehandler:", err)
		os.Exit(1)
	}
}

type handler struct {
	dir      string
	mu       sync.Mutex // serialises seq and record writes
	inflight map[string]int
}

func run() error {
	dir := os.Getenv("FAKE_DIR")
	if dir == "" {
		return errors.New("FAKE_DIR is not set")
	}
	if os.Getenv("FAKE_EXIT_AT_START") == "1" {
		fmt.Fprintln(os.Stderr, "fakehandler: refusing to start (FAKE_EXIT_AT_START)")
		os.Exit(1)
	}
	if os.Getenv("FAKE_IGNORE_TERM") == "1" {
		signal.Ignore(syscall.SIGTERM)
	}
	h := &handler{dir: dir, inflight: map[string]int{}}
	starts := h.bump("starts")
	if err := h.recordStart(); err != nil {
		return err
	}
	if os.Getenv("FAKE_SPAWN") == "1" {
		if err := spawn(dir); err != nil {
			return err
		}
	}
	// Counted from the first GET / so that the host has seen the handler ready.
	var exitOnce sync.Once
	exitLater := func() {}
	if d, err := time.ParseDuration(os.Getenv("FAKE_EXIT_AFTER")); err == nil && starts == 1 {
		exitLater = func() {
			exitOnce.Do(func() {
				time.AfterFunc(d, func() {
					fmt.Fprintln(os.Stderr, "fakehandler: exiting on my own (FAKE_EXIT_AFTER)")
					os.Exit(2)
				})
			})
		}
	}
	fmt.Printf("fakehandler: started pid=%d port=%s\n", os.Getpid(), os.Getenv("FUNCTIONS_CUSTOMHANDLER_PORT"))
	if os.Getenv("FAKE_NO_LISTEN") == "1" {
		time.Sleep(time.Hour)
		return nil
	}

	l, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("FUNCTIONS_CUSTOMHANDLER_PORT"))
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ready")
		exitLater()
	})
	mux.HandleFunc("POST /{function}", h.invoke)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}

	shutdown := make(chan struct{})
	if os.Getenv("FAKE_IGNORE_TERM") != "1" { // Notify would undo signal.Ignore
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
		defer stop()
		go func() {
			defer close(shutdown)
			<-ctx.Done()
			fmt.Println("fakehandler: SIGTERM, shutting down")
			sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			srv.Shutdown(sctx) // waits for requests in flight
		}()
	}
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	<-shutdown
	return nil
}

func (h *handler) invoke(w http.ResponseWriter, r *http.Request) {
	function := r.PathValue("function")
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	seq := h.bumpLocked("seq")
	h.inflight[function]++
	concurrent := h.inflight[function]
	h.appendLocked(map[string]any{
		"kind": "start", "seq": seq, "pid": os.Getpid(), "method": r.Method, "path": r.URL.Path,
		"headers": r.Header, "body": json.RawMessage(body), "concurrent": concurrent,
		"time": time.Now().UTC().Format(time.RFC3339Nano),
	})
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.inflight[function]--
		h.appendLocked(map[string]any{"kind": "end", "seq": seq, "time": time.Now().UTC().Format(time.RFC3339Nano)})
		h.mu.Unlock()
	}()
	fmt.Fprintf(os.Stderr, "fakehandler: invocation %d of %s (id %s)\n", seq, function, r.Header.Get("X-Azure-Functions-InvocationId"))

	if inList(os.Getenv("FAKE_CRASH"), seq) {
		fmt.Fprintln(os.Stderr, "fakehandler: crashing (FAKE_CRASH)")
		os.Exit(3)
	}
	if d := slowFor(os.Getenv("FAKE_SLOW"), seq); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if inList(os.Getenv("FAKE_FAIL"), seq) {
		w.WriteHeader(http.StatusInternalServerError)
		json.NewEncoder(w).Encode(map[string]any{"Outputs": map[string]any{}, "Logs": []string{"discarded"}, "ReturnValue": nil, "Error": fmt.Sprintf("boom at invocation %d", seq)})
		return
	}
	logs := []string{fmt.Sprintf("invocation %d ok", seq)}
	if n, err := strconv.Atoi(os.Getenv("FAKE_DONE_AT")); err == nil && seq >= n {
		logs = append(logs, "nothing more to do")
	}
	json.NewEncoder(w).Encode(map[string]any{"Outputs": map[string]any{}, "Logs": logs, "ReturnValue": nil})
}

// bump increments the counter file name and returns the new value.
func (h *handler) bump(name string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.bumpLocked(name)
}

func (h *handler) bumpLocked(name string) int {
	path := filepath.Join(h.dir, name)
	b, _ := os.ReadFile(path)
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	n++
	if err := os.WriteFile(path, []byte(strconv.Itoa(n)), 0o644); err != nil {
		panic(err)
	}
	return n
}

func (h *handler) appendLocked(rec map[string]any) {
	b, err := json.Marshal(rec)
	if err != nil {
		panic(err)
	}
	f, err := os.OpenFile(filepath.Join(h.dir, "requests.jsonl"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		panic(err)
	}
	defer f.Close()
	if _, err := f.Write(append(b, '\n')); err != nil {
		panic(err)
	}
}

func (h *handler) recordStart() error {
	wd, _ := os.Getwd()
	env := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	b, err := json.Marshal(map[string]any{"args": os.Args[1:], "wd": wd, "env": env})
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(h.dir, fmt.Sprintf("start.%d.json", os.Getpid())), b, 0o644)
}

func spawn(dir string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), "FAKE_ROLE=sleeper")
	cmd.Stderr = os.Stderr // holds the host's pipe open, as a careless child would
	if err := cmd.Start(); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, fmt.Sprintf("grandchild.%d", os.Getpid())), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644)
}

func inList(list string, seq int) bool {
	return slices.Contains(strings.Split(list, ","), strconv.Itoa(seq))
}

func slowFor(spec string, seq int) time.Duration {
	for _, item := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(item, "=")
		if !ok || (k != "*" && k != strconv.Itoa(seq)) {
			continue
		}
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return 0
}
