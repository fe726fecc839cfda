package timerhost

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// App is a function app as the Functions host sees it after start-up: the
// custom handler to run and the timer-triggered functions to invoke.
type App struct {
	// Root is the absolute path of the app root (the folder holding host.json).
	Root string
	// Executable is customHandler.description.defaultExecutablePath: an
	// absolute path when the file exists under Root, otherwise a command
	// resolved on PATH.
	Executable string
	// Arguments are the handler's arguments with %SETTING% references expanded.
	Arguments []string
	// WorkingDirectory is the handler's absolute working directory (Root by default).
	WorkingDirectory string
	// FunctionTimeout is host.json's functionTimeout; zero means unbounded.
	FunctionTimeout time.Duration
	// Functions are the enabled timer-triggered functions, sorted by name.
	Functions []Function

	// settings are local.settings.json's Values overlaid by the environment;
	// environ is the same set as KEY=VALUE pairs, the base of the handler's
	// environment.
	settings map[string]string
	environ  []string
}

// Function is one timer-triggered function of an [App].
type Function struct {
	// Name is the function name: the name of the folder holding function.json.
	Name string
	// BindingName is the timerTrigger binding's name, the key of the timer
	// value in the invocation payload's Data.
	BindingName string
	// Schedule is the resolved, parsed schedule.
	Schedule Schedule
	// RunOnStartup invokes the function once when the host starts.
	RunOnStartup bool
	// UseMonitor reports whether the payload carries a ScheduleStatus. As in
	// the host, it is forced off for schedules that fire more than once a minute.
	UseMonitor bool
}

// String summarises the app without its settings, which may hold secrets.
func (a *App) String() string {
	var fns []string
	for _, f := range a.Functions {
		fns = append(fns, fmt.Sprintf("%s (%s)", f.Name, f.Schedule))
	}
	timeout := "unbounded"
	if a.FunctionTimeout > 0 {
		timeout = formatTimeSpan(a.FunctionTimeout)
	}
	return fmt.Sprintf("function app %s: handler %s, functionTimeout %s, timer functions %s",
		a.Root, a.Executable, timeout, strings.Join(fns, ", "))
}

// Setting returns an app setting: the process environment wins over
// local.settings.json's Values, as with func start.
func (a *App) Setting(name string) (string, bool) {
	v, ok := a.settings[name]
	return v, ok
}

// Function returns the function with the given name; an empty name selects
// the app's only function.
func (a *App) Function(name string) (Function, error) {
	if name == "" {
		if len(a.Functions) == 1 {
			return a.Functions[0], nil
		}
		return Function{}, fmt.Errorf("timerhost: the app has %d timer functions; name one", len(a.Functions))
	}
	for _, f := range a.Functions {
		if f.Name == name {
			return f, nil
		}
	}
	return Function{}, fmt.Errorf("timerhost: no timer function %q", name)
}

type hostJSON struct {
	FunctionTimeout *string  `json:"functionTimeout"`
	Functions       []string `json:"functions"`
	CustomHandler   *struct {
		Description *struct {
			DefaultExecutablePath string   `json:"defaultExecutablePath"`
			WorkingDirectory      string   `json:"workingDirectory"`
			Arguments             []string `json:"arguments"`
		} `json:"description"`
	} `json:"customHandler"`
}

type functionJSON struct {
	Disabled json.RawMessage `json:"disabled"`
	Bindings []struct {
		Type         string `json:"type"`
		Direction    string `json:"direction"`
		Name         string `json:"name"`
		Schedule     string `json:"schedule"`
		RunOnStartup bool   `json:"runOnStartup"`
		UseMonitor   *bool  `json:"useMonitor"`
	} `json:"bindings"`
}

type localSettingsJSON struct {
	IsEncrypted bool                       `json:"IsEncrypted"`
	Values      map[string]json.RawMessage `json:"Values"`
}

// LoadApp reads the function app under root: host.json, local.settings.json
// (optional) and every */function.json with a timerTrigger binding. environ
// is the process environment as [os.Environ] returns it, possibly with
// overrides appended (later entries win); its variables win over
// local.settings.json's Values and are all passed to the handler. Errors
// name the file at fault. An app without an enabled timer function is an
// error. The App must not be modified once given to [New].
func LoadApp(root string, environ []string) (*App, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("timerhost: app root: %w", err)
	}
	settings, err := loadSettings(root, environ)
	if err != nil {
		return nil, err
	}
	app := &App{Root: root, settings: settings, environ: settingsEnviron(settings)}
	if err := app.loadHost(); err != nil {
		return nil, err
	}
	return app, nil
}

// loadHost reads host.json and the function folders into a.
func (a *App) loadHost() error {
	path := filepath.Join(a.Root, "host.json")
	var h hostJSON
	if err := readJSON(path, &h); err != nil {
		return err
	}
	if h.CustomHandler == nil || h.CustomHandler.Description == nil {
		return fmt.Errorf("timerhost: %s: no customHandler.description section", path)
	}
	d := h.CustomHandler.Description
	if strings.TrimSpace(d.DefaultExecutablePath) == "" {
		return fmt.Errorf("timerhost: %s: customHandler.description.defaultExecutablePath cannot be empty", path)
	}
	exe, err := resolveExecutable(a.Root, d.DefaultExecutablePath)
	if err != nil {
		return fmt.Errorf("timerhost: %s: %w", path, err)
	}
	a.Executable = exe
	for _, arg := range d.Arguments {
		a.Arguments = append(a.Arguments, expandArgument(arg, a.lookup))
	}
	a.WorkingDirectory = a.Root
	if d.WorkingDirectory != "" {
		a.WorkingDirectory = d.WorkingDirectory
		if !filepath.IsAbs(a.WorkingDirectory) {
			a.WorkingDirectory = filepath.Join(a.Root, a.WorkingDirectory)
		}
		if fi, err := os.Stat(a.WorkingDirectory); err != nil || !fi.IsDir() {
			return fmt.Errorf("timerhost: %s: workingDirectory %q is not a directory", path, d.WorkingDirectory)
		}
	}
	if h.FunctionTimeout != nil {
		a.FunctionTimeout, err = parseFunctionTimeout(*h.FunctionTimeout)
		if err != nil {
			return fmt.Errorf("timerhost: %s: functionTimeout: %w", path, err)
		}
	}
	return a.loadFunctions(h.Functions)
}

// loadFunctions reads every <root>/*/function.json; only lists the functions
// host.json's "functions" array names when it is present.
func (a *App) loadFunctions(only []string) error {
	paths, err := filepath.Glob(filepath.Join(a.Root, "*", "function.json"))
	if err != nil {
		return fmt.Errorf("timerhost: listing functions: %w", err)
	}
	sort.Strings(paths)
	disabled := 0
	for _, path := range paths {
		name := filepath.Base(filepath.Dir(path))
		if only != nil && !slices.Contains(only, name) {
			continue
		}
		fn, ok, err := a.loadFunction(path, name)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if a.functionDisabled(name, fn.disabled) {
			disabled++
			continue
		}
		a.Functions = append(a.Functions, fn.Function)
	}
	if len(a.Functions) == 0 {
		return fmt.Errorf("timerhost: %s: no enabled timer-triggered function (*/function.json with a timerTrigger binding; %d disabled)", a.Root, disabled)
	}
	return nil
}

type loadedFunction struct {
	Function
	disabled json.RawMessage
}

// loadFunction parses one function.json; ok is false when it has no
// timerTrigger binding.
func (a *App) loadFunction(path, name string) (fn loadedFunction, ok bool, err error) {
	var f functionJSON
	if err := readJSON(path, &f); err != nil {
		return fn, false, err
	}
	for _, b := range f.Bindings {
		if !strings.EqualFold(b.Type, "timerTrigger") {
			continue
		}
		if ok {
			return fn, false, fmt.Errorf("timerhost: %s: more than one timerTrigger binding", path)
		}
		if b.Name == "" {
			return fn, false, fmt.Errorf("timerhost: %s: the timerTrigger binding has no name", path)
		}
		expr, err := resolveSettings(b.Schedule, a.lookup)
		if err != nil {
			return fn, false, fmt.Errorf("timerhost: %s: schedule: %w", path, err)
		}
		sched, err := ParseSchedule(expr)
		if err != nil {
			return fn, false, fmt.Errorf("timerhost: %s: %w", path, err)
		}
		useMonitor := b.UseMonitor == nil || *b.UseMonitor
		if sched.subMinute(time.Now()) {
			// The host turns the monitor off for sub-minute schedules even
			// when function.json asks for it (TimerSchedule.Create).
			useMonitor = false
		}
		fn = loadedFunction{
			Function: Function{
				Name:         name,
				BindingName:  b.Name,
				Schedule:     sched,
				RunOnStartup: b.RunOnStartup,
				UseMonitor:   useMonitor,
			},
			disabled: f.Disabled,
		}
		ok = true
	}
	return fn, ok, nil
}

// functionDisabled reports function.json's "disabled" (a boolean or the
// name of a setting) or the AzureWebJobs.<name>.Disabled setting.
func (a *App) functionDisabled(name string, raw json.RawMessage) bool {
	truthy := func(s string) bool {
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		return err == nil && b
	}
	if v, ok := a.lookup("AzureWebJobs." + name + ".Disabled"); ok && truthy(v) {
		return true
	}
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b
	}
	var setting string
	if json.Unmarshal(raw, &setting) == nil && setting != "" {
		if v, ok := a.lookup(setting); ok {
			return truthy(v)
		}
		return truthy(setting)
	}
	return false
}

// lookup resolves a setting name. Exact matches win; otherwise the match is
// case-insensitive, as .NET configuration keys are.
func (a *App) lookup(name string) (string, bool) {
	if v, ok := a.settings[name]; ok {
		return v, true
	}
	for k, v := range a.settings {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

// loadSettings merges local.settings.json's Values (if the file exists) with
// environ; environ wins.
func loadSettings(root string, environ []string) (map[string]string, error) {
	settings := map[string]string{}
	path := filepath.Join(root, "local.settings.json")
	if _, err := os.Stat(path); err == nil {
		var ls localSettingsJSON
		if err := readJSON(path, &ls); err != nil {
			return nil, err
		}
		if ls.IsEncrypted {
			return nil, fmt.Errorf("timerhost: %s: IsEncrypted is true; only plain-text settings are supported", path)
		}
		for k, raw := range ls.Values {
			v, err := settingValue(raw)
			if err != nil {
				return nil, fmt.Errorf("timerhost: %s: Values.%s: %w", path, k, err)
			}
			settings[k] = v
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("timerhost: %w", err)
	}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok && k != "" {
			settings[k] = v
		}
	}
	return settings, nil
}

// settingValue accepts strings and, as Core Tools' dictionary does, the text
// of numbers and booleans.
func settingValue(raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	raw = bytes.TrimSpace(raw)
	var v any
	if err := json.Unmarshal(raw, &v); err == nil {
		switch v.(type) {
		case bool, float64:
			return string(raw), nil
		case nil:
			return "", nil
		}
	}
	return "", fmt.Errorf("must be a string, not %s", raw)
}

func settingsEnviron(settings map[string]string) []string {
	env := make([]string, 0, len(settings))
	for k, v := range settings {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return env
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("timerhost: %w", err)
	}
	// The host tolerates a UTF-8 byte order mark, which Windows editors add.
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	if err := json.Unmarshal(b, v); err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			line := 1 + bytes.Count(b[:syntax.Offset], []byte("\n"))
			col := int(syntax.Offset) - bytes.LastIndexByte(b[:syntax.Offset], '\n') - 1
			return fmt.Errorf("timerhost: %s: malformed JSON at line %d, column %d: %w", path, line, col, err)
		}
		return fmt.Errorf("timerhost: %s: malformed JSON: %w", path, err)
	}
	return nil
}

// resolveExecutable follows the host: a relative path naming a file under
// the app root becomes absolute; anything else is a command on PATH.
func resolveExecutable(root, exe string) (string, error) {
	if filepath.IsAbs(exe) {
		if _, err := os.Stat(exe); err != nil {
			return "", fmt.Errorf("defaultExecutablePath: %w", err)
		}
		return exe, nil
	}
	if p := filepath.Join(root, exe); fileExists(p) {
		return p, nil
	}
	p, err := exec.LookPath(exe)
	if err != nil {
		return "", fmt.Errorf("defaultExecutablePath %q: not a file under %s and not a command on PATH (build the handler first): %w", exe, root, err)
	}
	return p, nil
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

var settingRef = regexp.MustCompile(`%([^%\s]+)%`)

// resolveSettings replaces every %NAME% in s with the setting's value, the
// way the WebJobs name resolver treats binding expressions.
func resolveSettings(s string, lookup func(string) (string, bool)) (string, error) {
	var missing []string
	out := settingRef.ReplaceAllStringFunc(s, func(ref string) string {
		v, ok := lookup(ref[1 : len(ref)-1])
		if !ok {
			missing = append(missing, fmt.Sprintf("'%s' does not resolve to a value", ref))
			return ref
		}
		return v
	})
	if missing != nil {
		return "", errors.New(strings.Join(missing, "; "))
	}
	return out, nil
}

// expandArgument mirrors .NET's Environment.ExpandEnvironmentVariables: known
// %NAME% references are replaced, unknown ones are left as they are.
func expandArgument(s string, lookup func(string) (string, bool)) string {
	return settingRef.ReplaceAllStringFunc(s, func(ref string) string {
		if v, ok := lookup(ref[1 : len(ref)-1]); ok {
			return v
		}
		return ref
	})
}

var timeSpanRE = regexp.MustCompile(`^(-)?(?:(\d+)|(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?)$`)

// parseFunctionTimeout reads a .NET TimeSpan the way host.json's
// functionTimeout is written ("hh:mm:ss", "d.hh:mm:ss", "hh:mm:ss.fff", or
// a bare number of days). "-1" (and an empty value) mean unbounded, returned
// as zero.
func parseFunctionTimeout(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "-1" {
		return 0, nil
	}
	m := timeSpanRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("%q is not a TimeSpan like \"00:05:00\" or \"1.00:00:00\"", s)
	}
	num := func(i int) int64 {
		n, _ := strconv.ParseInt(m[i], 10, 64) // the pattern admits only digits
		return n
	}
	var d time.Duration
	if m[2] != "" {
		d = time.Duration(num(2)) * 24 * time.Hour
	} else {
		if num(4) > 23 || num(5) > 59 || num(6) > 59 {
			return 0, fmt.Errorf("%q: hours, minutes or seconds out of range", s)
		}
		d = time.Duration(num(3))*24*time.Hour + time.Duration(num(4))*time.Hour +
			time.Duration(num(5))*time.Minute + time.Duration(num(6))*time.Second
		if m[7] != "" {
			frac := m[7] + strings.Repeat("0", 7-len(m[7]))
			ticks, _ := strconv.ParseInt(frac, 10, 64)
			d += time.Duration(ticks) * 100 * time.Nanosecond
		}
	}
	if m[1] != "" {
		return 0, fmt.Errorf("%q: only -1 may be negative (unbounded)", s)
	}
	if d < time.Second {
		return 0, fmt.Errorf("%q: must be at least one second", s)
	}
	return d, nil
}
