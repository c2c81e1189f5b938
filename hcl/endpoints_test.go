package hcl

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestEndpointsKeptApart: status and metrics refuse a client's secret as
// their token, and neither path may be or lie under the other. Each
// diagnostic points at the attribute that was written.
func TestEndpointsKeptApart(t *testing.T) {
	const tokens = `
token "app" {
  secret = "sk-app-secret-0001"
  pools  = ["main"]
}
token "ci" {
  secrets = ["sk-ci-secret-0001", "sk-ci-secret-0002"]
  pools   = ["main"]
}
`
	// Lines in want count from the case's body, which follows baseConfig
	// and tokens.
	base := strings.Count(baseConfig+tokens, "\n")
	// want is a diagnostic's position (line relative to the case's body)
	// and summary.
	type want struct {
		line, col int
		summary   string
	}
	tests := []struct {
		name, body string
		want       []want
	}{
		{"same path", `status {
  token = "status-token-0001"
}
metrics {
  path = "/status/"
}`, []want{{5, 10, "Metrics path shadows the status path"}}},
		{"metrics under status", `status {
  path  = "/ops"
  token = "status-token-0001"
}
metrics { path = "/ops/ui" }`, []want{{5, 18, "Metrics path shadows the status path"}}},
		{"status under the default metrics path", `status {
  path  = "/metrics/status"
  token = "status-token-0001"
}
metrics {}`, []want{{2, 11, "Status path lies under the metrics path"}}},
		{"metrics disabled", `status {
  token = "status-token-0001"
}
metrics {
  enabled = false
  path    = "/status"
}`, nil},
		{"a shared prefix is not a path under another", `status {
  token = "status-token-0001"
}
metrics { path = "/statusmetrics" }`, nil},
		{"status token is a client secret", `status {
  token = "sk-app-secret-0001"
}`, []want{{2, 11, "Operator token is a client token"}}},
		{"metrics token is a client's second secret", `metrics {
  token = "sk-ci-secret-0002"
}`, []want{{2, 11, "Operator token is a client token"}}},
		{"status and metrics may share a token", `status {
  token = "operator-token-0001"
}
metrics {
  token = "operator-token-0001"
}`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "b.hcl")
			_, err := LoadBytes(path, []byte(baseConfig+tokens+tc.body), Options{})
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("want a clean load, got:\n%v", err)
				}
				return
			}
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("want *Error, got %v", err)
			}
			if len(de.Diags) != len(tc.want) {
				t.Fatalf("want %d diagnostics, got:\n%v", len(tc.want), err)
			}
			for i, w := range tc.want {
				d := de.Diags[i]
				if d.Subject == nil || d.Subject.Start.Line != base+w.line || d.Subject.Start.Column != w.col || d.Summary != w.summary {
					t.Errorf("diag %d = %s, want %d:%d %q", i, FormatDiagnostic(d), base+w.line, w.col, w.summary)
				}
				if msg := FormatDiagnostic(d); strings.Contains(msg, "sk-app-secret") || strings.Contains(msg, "sk-ci-secret") {
					t.Errorf("diagnostic quotes a secret: %s", msg)
				}
			}
		})
	}
}
