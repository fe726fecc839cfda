package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestSecretRedaction(t *testing.T) {
	c, err := Load(getenv(map[string]string{EnvFilters: `{"user.username":{"eq":["alice@contoso.com"]}}`}), noHostJSON)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Checkpoint.ConnectionString.Reveal(); got != testConnString {
		t.Fatalf("Reveal() = %q, want the connection string", got)
	}

	var outputs []string
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3v"} {
		outputs = append(outputs,
			fmt.Sprintf(format, c), fmt.Sprintf(format, *c),
			fmt.Sprintf(format, c.Checkpoint), fmt.Sprintf(format, c.Checkpoint.ConnectionString))
	}
	outputs = append(outputs, fmt.Sprint(c.Checkpoint.ConnectionString), c.Checkpoint.ConnectionString.String(),
		c.Checkpoint.ConnectionString.GoString())
	for _, v := range []any{c, *c, c.Checkpoint, c.Checkpoint.ConnectionString} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("json.Marshal(%T) error = %v", v, err)
		}
		outputs = append(outputs, string(b))
	}
	var logs bytes.Buffer
	for _, h := range []slog.Handler{slog.NewJSONHandler(&logs, nil), slog.NewTextHandler(&logs, nil)} {
		l := slog.New(h)
		l.Info("loaded", "config", c, "value", *c, "checkpoint", c.Checkpoint, "secret", c.Checkpoint.ConnectionString)
		l.Info("any", slog.Any("config", c))
	}
	outputs = append(outputs, logs.String())

	for _, out := range outputs {
		for _, secret := range []string{testAccountKey, "AccountKey", "alice@contoso.com"} {
			if secret == "alice@contoso.com" && !strings.HasPrefix(out, "time=") && !strings.HasPrefix(out, `{"time"`) {
				continue // filter values are not secret; only the log summary leaves them out
			}
			if strings.Contains(out, secret) {
				t.Errorf("output contains %q: %s", secret, out)
			}
		}
	}
	if !strings.Contains(fmt.Sprintf("%+v", c), "[REDACTED]") {
		t.Errorf("%%+v does not show the redaction marker: %+v", c)
	}
}

func TestConfigLogValue(t *testing.T) {
	c, err := Load(getenv(map[string]string{EnvFilters: `{"service":{"eq":[11161]},"ip.address":{"eq":["10.0.0.1"]}}`}), noHostJSON)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "config", c)
	var rec struct {
		Config map[string]any `json:"config"`
	}
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]any{
		"api_host": "contoso.us3.portal.cloudappsecurity.com", "rule_id": validRuleID, "run_budget": "8m0s",
		"requests_per_minute": float64(30), "filters": "ip.address,service", "stream": "Custom-MCAS_Activity_Log_CL",
	} {
		if got := rec.Config[key]; got != want {
			t.Errorf("config.%s = %v, want %v", key, got, want)
		}
	}
	cp, _ := rec.Config["checkpoint"].(map[string]any)
	if cp["auth"] != "connection string" || cp["endpoint"] != "https://mcasckpt.table.core.windows.net" || cp["table"] != "mcascheckpoints" {
		t.Errorf("config.checkpoint = %v", cp)
	}
	if strings.Contains(buf.String(), "10.0.0.1") {
		t.Errorf("log summary contains a filter value: %s", buf.String())
	}
}

func TestSecretEmpty(t *testing.T) {
	var s Secret
	if !s.IsZero() || s.String() != "" || fmt.Sprint(s) != "" {
		t.Errorf("empty Secret = %q, want empty output", s)
	}
	if b, _ := json.Marshal(s); string(b) != `""` {
		t.Errorf("json.Marshal(empty Secret) = %s, want \"\"", b)
	}
}
