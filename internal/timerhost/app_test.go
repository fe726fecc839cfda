package timerhost

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// writeTree writes files (slash-separated paths relative to a new temp dir)
// and returns the dir.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// appSummary is the comparable view of an App.
type appSummary struct {
	Executable       string
	Arguments        []string
	WorkingDirectory string
	FunctionTimeout  time.Duration
	Functions        []functionSummary
}

type functionSummary struct {
	Name, BindingName, Schedule string
	RunOnStartup, UseMonitor    bool
}

func summarize(a *App) appSummary {
	s := appSummary{
		Executable:       strings.TrimPrefix(a.Executable, a.Root),
		Arguments:        a.Arguments,
		WorkingDirectory: strings.TrimPrefix(a.WorkingDirectory, a.Root),
		FunctionTimeout:  a.FunctionTimeout,
	}
	for _, f := range a.Functions {
		s.Functions = append(s.Functions, functionSummary{f.Name, f.BindingName, f.Schedule.String(), f.RunOnStartup, f.UseMonitor})
	}
	return s
}

const (
	minimalHost  = `{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":"bin/handler"}}}`
	timerFn      = `{"bindings":[{"name":"timer","type":"timerTrigger","direction":"in","schedule":"%MCAS_SCHEDULE%"}]}`
	scheduleVals = `{"IsEncrypted":false,"Values":{"MCAS_SCHEDULE":"0 */5 * * * *"}}`
)

func TestLoadApp(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		environ []string
		onPath  bool // the executable is a command on PATH: compare its base name
		want    appSummary
	}{
		{
			name: "the project's shape",
			files: map[string]string{
				"host.json": `{"version":"2.0","functionTimeout":"00:09:00","customHandler":{"description":{
					"defaultExecutablePath":"bin/handler","workingDirectory":"work","arguments":["--flag","%HANDLER_FLAG%","%NOT_SET%"]}}}`,
				"bin/handler": "#!/bin/sh\n",
				"work/":       "",
				"local.settings.json": `{"IsEncrypted":false,"Values":{"FUNCTIONS_WORKER_RUNTIME":"Custom",
					"MCAS_SCHEDULE":"0 0 * * * *","HANDLER_FLAG":"from-file"}}`,
				"MCASTimerTrigger/function.json": timerFn,
				"HttpThing/function.json":        `{"bindings":[{"name":"req","type":"httpTrigger","direction":"in"}]}`,
				"notAFunction/readme.txt":        "x",
			},
			environ: []string{"MCAS_SCHEDULE=0 */5 * * * *"},
			want: appSummary{
				Executable:       "/bin/handler",
				Arguments:        []string{"--flag", "from-file", "%NOT_SET%"},
				WorkingDirectory: "/work",
				FunctionTimeout:  9 * time.Minute,
				Functions:        []functionSummary{{"MCASTimerTrigger", "timer", "0 */5 * * * *", false, true}},
			},
		},
		{
			name: "five fields, options, sub-minute schedule turns the monitor off, unbounded timeout",
			files: map[string]string{
				"host.json":   `{"functionTimeout":"-1","customHandler":{"description":{"defaultExecutablePath":"bin/handler"}}}`,
				"bin/handler": "",
				"B/function.json": `{"bindings":[{"name":"myTimer","type":"TimerTrigger","direction":"in",
					"schedule":"*/10 * * * *","runOnStartup":true,"useMonitor":false}]}`,
				"A/function.json": `{"bindings":[{"name":"t","type":"timerTrigger","schedule":"*/5 * * * * *","useMonitor":true}]}`,
			},
			want: appSummary{
				Executable:       "/bin/handler",
				WorkingDirectory: "",
				Functions: []functionSummary{
					{"A", "t", "*/5 * * * * *", false, false},
					{"B", "myTimer", "*/10 * * * *", true, false},
				},
			},
		},
		{
			name: "disabled functions and host.json's functions list",
			files: map[string]string{
				"host.json":           `{"functionTimeout":"1.00:00:00","functions":["A","B","C"],"customHandler":{"description":{"defaultExecutablePath":"bin/handler"}}}`,
				"bin/handler":         "",
				"local.settings.json": `{"Values":{"MCAS_SCHEDULE":"0 0 * * * *","AzureWebJobs.B.Disabled":"true","SWITCH":"1"}}`,
				"A/function.json":     timerFn,
				"B/function.json":     timerFn,
				"C/function.json":     `{"disabled":"SWITCH",` + timerFn[1:],
				"D/function.json":     timerFn,
				"E/function.json":     `{"disabled":true,` + timerFn[1:],
			},
			want: appSummary{
				Executable:      "/bin/handler",
				FunctionTimeout: 24 * time.Hour,
				Functions:       []functionSummary{{"A", "timer", "0 0 * * * *", false, true}},
			},
		},
		{
			name: "a command on PATH",
			files: map[string]string{
				"host.json":       `{"customHandler":{"description":{"defaultExecutablePath":"sh"}}}`,
				"A/function.json": `{"bindings":[{"name":"t","type":"timerTrigger","schedule":"0 0 * * * *"}]}`,
			},
			environ: []string{"PATH=" + os.Getenv("PATH")},
			onPath:  true,
			want:    appSummary{Executable: "sh", Functions: []functionSummary{{"A", "t", "0 0 * * * *", false, true}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := writeTree(t, tt.files)
			app, err := LoadApp(root, tt.environ)
			if err != nil {
				t.Fatal(err)
			}
			got := summarize(app)
			if tt.onPath {
				got.Executable = filepath.Base(got.Executable)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("LoadApp() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadAppSettings(t *testing.T) {
	root := writeTree(t, map[string]string{
		"host.json":           minimalHost,
		"bin/handler":         "",
		"local.settings.json": "\xef\xbb\xbf" + `{"IsEncrypted":false,"Values":{"MCAS_SCHEDULE":"0 */5 * * * *","A":"file","B":"file","N":5,"T":true}}`,
		"F/function.json":     timerFn,
	})
	app, err := LoadApp(root, []string{"B=env", "C=env"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, k := range []string{"A", "B", "C", "N", "T", "MISSING"} {
		if v, ok := app.Setting(k); ok {
			got[k] = v
		}
	}
	if s := fmt.Sprintf("%v %+v", app, app); strings.Contains(s, "file") || !strings.Contains(s, "timer functions F (0 */5 * * * *)") {
		t.Errorf("App prints as %q; want a summary without settings", s)
	}
	want := map[string]string{"A": "file", "B": "env", "C": "env", "N": "5", "T": "true"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("settings mismatch (-want +got):\n%s", diff)
	}
	// The handler's environment carries the merged settings.
	var env []string
	for _, kv := range app.environ {
		if k, _, _ := strings.Cut(kv, "="); len(k) == 1 {
			env = append(env, kv)
		}
	}
	if diff := cmp.Diff([]string{"A=file", "B=env", "C=env", "N=5", "T=true"}, env); diff != "" {
		t.Errorf("environ mismatch (-want +got):\n%s", diff)
	}
}

func TestLoadAppErrors(t *testing.T) {
	base := func(over map[string]string) map[string]string {
		files := map[string]string{
			"host.json":           minimalHost,
			"bin/handler":         "",
			"local.settings.json": scheduleVals,
			"Fn/function.json":    timerFn,
		}
		for k, v := range over {
			if v == "<delete>" {
				delete(files, k)
				continue
			}
			files[k] = v
		}
		return files
	}
	tests := []struct {
		name  string
		files map[string]string
		want  []string // substrings of the error
	}{
		{"no host.json", base(map[string]string{"host.json": "<delete>"}), []string{"host.json", "no such file"}},
		{"malformed host.json", base(map[string]string{"host.json": `{"customHandler":`}), []string{"host.json: malformed JSON"}},
		{"syntax error position", base(map[string]string{"host.json": "{\n  \"version\": \"2.0\",,\n}"}), []string{"host.json: malformed JSON at line 2, column 20"}},
		{"wrong type", base(map[string]string{"Fn/function.json": `{"bindings":[{"name":"t","type":"timerTrigger","schedule":5}]}`}), []string{filepath.Join("Fn", "function.json") + ": malformed JSON", "schedule"}},
		{"no customHandler", base(map[string]string{"host.json": `{"version":"2.0"}`}), []string{"host.json: no customHandler.description"}},
		{"empty executable", base(map[string]string{"host.json": `{"customHandler":{"description":{"defaultExecutablePath":" "}}}`}), []string{"defaultExecutablePath cannot be empty"}},
		{"missing executable", base(map[string]string{"bin/handler": "<delete>"}), []string{"host.json", `"bin/handler": not a file under`, "build the handler first"}},
		{"bad functionTimeout", base(map[string]string{"host.json": `{"functionTimeout":"5 minutes","customHandler":{"description":{"defaultExecutablePath":"bin/handler"}}}`}), []string{"host.json: functionTimeout", `"5 minutes"`}},
		{"functionTimeout out of range", base(map[string]string{"host.json": `{"functionTimeout":"00:61:00","customHandler":{"description":{"defaultExecutablePath":"bin/handler"}}}`}), []string{"out of range"}},
		{"missing workingDirectory", base(map[string]string{"host.json": `{"customHandler":{"description":{"defaultExecutablePath":"bin/handler","workingDirectory":"nope"}}}`}), []string{`workingDirectory "nope"`}},
		{"malformed function.json", base(map[string]string{"Fn/function.json": `{"bindings":[`}), []string{filepath.Join("Fn", "function.json") + ": malformed JSON"}},
		{"unresolved setting", base(map[string]string{"local.settings.json": "<delete>"}), []string{filepath.Join("Fn", "function.json"), "'%MCAS_SCHEDULE%' does not resolve to a value"}},
		{"bad schedule", base(map[string]string{"local.settings.json": `{"Values":{"MCAS_SCHEDULE":"0 */5 * * * * *"}}`}), []string{filepath.Join("Fn", "function.json"), "6 fields"}},
		{"TimeSpan schedule", base(map[string]string{"local.settings.json": `{"Values":{"MCAS_SCHEDULE":"00:05:00"}}`}), []string{"6 fields"}},
		{"binding without a name", base(map[string]string{"Fn/function.json": `{"bindings":[{"type":"timerTrigger","schedule":"0 * * * * *"}]}`}), []string{"has no name"}},
		{"malformed local.settings.json", base(map[string]string{"local.settings.json": `{"Values":`}), []string{"local.settings.json: malformed JSON"}},
		{"encrypted settings", base(map[string]string{"local.settings.json": `{"IsEncrypted":true,"Values":{}}`}), []string{"local.settings.json: IsEncrypted"}},
		{"object setting", base(map[string]string{"local.settings.json": `{"Values":{"MCAS_SCHEDULE":"0 * * * * *","X":{"a":1}}}`}), []string{"local.settings.json: Values.X: must be a string"}},
		{"no timer function", base(map[string]string{"Fn/function.json": `{"bindings":[{"name":"req","type":"httpTrigger"}]}`}), []string{"no enabled timer-triggered function"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := writeTree(t, tt.files)
			_, err := LoadApp(root, nil)
			if err == nil {
				t.Fatal("LoadApp() succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("LoadApp() error = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestResolveSettings(t *testing.T) {
	lookup := func(name string) (string, bool) {
		v, ok := map[string]string{"A": "1", "EMPTY": ""}[name]
		return v, ok
	}
	tests := []struct {
		in, want, wantErr string
	}{
		{in: "0 */5 * * * *", want: "0 */5 * * * *"},
		{in: "%A%", want: "1"},
		{in: "x%A%y%EMPTY%z", want: "x1yz"},
		{in: "%B%", wantErr: "'%B%' does not resolve to a value"},
		{in: "%A% %B% %C%", wantErr: "'%B%' does not resolve to a value; '%C%' does not resolve to a value"},
	}
	for _, tt := range tests {
		got, err := resolveSettings(tt.in, lookup)
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if got != tt.want || gotErr != tt.wantErr {
			t.Errorf("resolveSettings(%q) = %q, %q; want %q, %q", tt.in, got, gotErr, tt.want, tt.wantErr)
		}
	}
	if got := expandArgument("-p=%A% %B%", lookup); got != "-p=1 %B%" {
		t.Errorf("expandArgument() = %q, want unknown references kept", got)
	}
}

func TestParseFunctionTimeout(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{in: "00:05:00", want: 5 * time.Minute},
		{in: "00:00:02", want: 2 * time.Second},
		{in: "01:30", want: 90 * time.Minute},
		{in: "1.02:03:04", want: 26*time.Hour + 3*time.Minute + 4*time.Second},
		{in: "00:00:01.5", want: 1500 * time.Millisecond},
		{in: "2", want: 48 * time.Hour},
		{in: "-1", want: 0},
		{in: "", want: 0},
		{in: "00:00:00", wantErr: true},
		{in: "00:00:00.5", wantErr: true},
		{in: "-00:05:00", wantErr: true},
		{in: "24:00:00", wantErr: true},
		{in: "00:60:00", wantErr: true},
		{in: "5m", wantErr: true},
		{in: "1:2:3:4", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseFunctionTimeout(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseFunctionTimeout(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
