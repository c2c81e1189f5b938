package hcl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// exampleEnv is every variable the examples read, set to plausible values.
var exampleEnv = map[string]string{
	"GEMINI_KEYS":           "AIzaSyEXAMPLEenv00000000000000000000001,AIzaSyEXAMPLEenv00000000000000000000002",
	"FREE_KEYS":             "AIzaSyEXAMPLEfree0000000000000000000001",
	"PAID_KEY":              "AIzaSyEXAMPLEpaid0000000000000000000001",
	"VERTEX_KEYS":           "AQ.EXAMPLEvertex000000000000000000000001,AQ.EXAMPLEvertex000000000000000000000002",
	"EXTRA_KEYS":            "AIzaSyEXAMPLEextra000000000000000000001",
	"BALANCE_TOKEN":         "sk-example-client-token",
	"BALANCE_STATUS_TOKEN":  "status-example-token",
	"TEAM_SEARCH_TOKEN":     "sk-team-search-new-0001",
	"TEAM_SEARCH_TOKEN_OLD": "sk-team-search-old-0001",
	"TEAM_BATCH_TOKEN":      "sk-team-batch-0000001",
	"INTERN_TOKEN":          "sk-intern-0000000001",
	"PROXY_PASSWORD":        "proxy-password",
	"BALANCE_MYSQL_DSN":     "balance:pw@tcp(mysql:3306)/balance?parseTime=true",
}

// TestExamples loads every examples/*.hcl with the variables it needs
// set; each must load with no error and no warning.
func TestExamples(t *testing.T) {
	files, _ := filepath.Glob("../examples/*.hcl")
	if len(files) < 7 {
		t.Fatalf("found %d examples, want at least 7", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			cfg, err := LoadWith(f, Options{LookupEnv: lookupIn(exampleEnv)})
			if err != nil {
				t.Fatalf("example does not load:\n%v", err)
			}
			if len(cfg.Warnings) > 0 {
				t.Errorf("example has warnings:\n%s", strings.Join(cfg.Warnings, "\n"))
			}
		})
	}
}

// TestExampleNeedsItsEnv: an example run without its variables fails
// naming them, rather than starting with empty keys.
func TestExampleNeedsItsEnv(t *testing.T) {
	_, err := LoadWith("../examples/free.hcl", Options{LookupEnv: lookupIn(nil)})
	if err == nil || !strings.Contains(err.Error(), `"GEMINI_KEYS" is not set`) || !strings.Contains(err.Error(), `"BALANCE_TOKEN" is not set`) {
		t.Fatalf("want errors naming GEMINI_KEYS and BALANCE_TOKEN, got %v", err)
	}
}

// TestKubernetesConfigMap validates the config embedded in the example
// ConfigMap, with the keys file from the example Secret.
func TestKubernetesConfigMap(t *testing.T) {
	cm, err := os.ReadFile("../examples/kubernetes/configmap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sec, err := os.ReadFile("../examples/kubernetes/secret.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	body := yamlBlock(t, string(cm), "balance.hcl: |")
	keys := yamlBlock(t, string(sec), "keys.txt: |")
	dir := t.TempDir()
	keysPath := filepath.Join(dir, "keys.txt")
	if err := os.WriteFile(keysPath, []byte(keys), 0o600); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(body, "/etc/balance/keys/keys.txt") {
		t.Fatal("configmap no longer reads /etc/balance/keys/keys.txt; update this test")
	}
	body = strings.ReplaceAll(body, "/etc/balance/keys/keys.txt", keysPath)
	cfg, err := LoadBytes(filepath.Join(dir, "balance.hcl"), []byte(body), Options{LookupEnv: lookupIn(exampleEnv)})
	if err != nil {
		t.Fatalf("configmap config does not load:\n%v", err)
	}
	if n := len(cfg.Pools[0].Keys); n != 2 {
		t.Errorf("configmap pool has %d keys from the secret, want 2", n)
	}
	if cfg.Server.Listen != "0.0.0.0:8000" {
		t.Errorf("listen %q: a pod must listen on all interfaces", cfg.Server.Listen)
	}
}

// TestComposeFile checks docker-compose.yml mounts the config directory
// (not the file) and health-checks /health.
func TestComposeFile(t *testing.T) {
	b, err := os.ReadFile("../examples/docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{"/etc/balance/conf/compose.hcl", "- ./:/etc/balance/conf:ro", "/health", "image: mysql:", "BALANCE_MYSQL_DSN"} {
		if !strings.Contains(s, want) {
			t.Errorf("docker-compose.yml lacks %q", want)
		}
	}
}

func lookupIn(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// yamlBlock returns the literal block scalar that follows header,
// dedented. Enough YAML for our own examples; no dependency.
func yamlBlock(t *testing.T, doc, header string) string {
	t.Helper()
	i := strings.Index(doc, header)
	if i < 0 {
		t.Fatalf("no %q in document", header)
	}
	lines := strings.Split(doc[i+len(header):], "\n")[1:]
	indent := -1
	var out []string
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			out = append(out, "")
			continue
		}
		n := len(l) - len(strings.TrimLeft(l, " "))
		if indent < 0 {
			indent = n
		}
		if n < indent {
			break
		}
		out = append(out, l[indent:])
	}
	return strings.Join(out, "\n")
}
