package hcl

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// docFiles are the README and every text file under examples/, whose
// commands a user copies as written.
func docFiles(t *testing.T) []string {
	t.Helper()
	files := []string{"../README.md"}
	err := filepath.WalkDir("../examples", func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch filepath.Ext(p) {
		case ".md", ".hcl", ".yml", ".yaml", ".sh", ".txt", ".example":
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

var (
	// cpCommand and configFlag find "cp SRC DST" and "-config FILE" in
	// command lines (shell comments included).
	cpCommand  = regexp.MustCompile(`(?:^|[\s#$])cp\s+(\S+)\s+\S+`)
	configFlag = regexp.MustCompile(`bin/balance(?:\s+\w+)?\s+-config\s+(\S+)`)
	envCall    = regexp.MustCompile(`env\("([A-Z0-9_]+)"`)
	exportVar  = regexp.MustCompile(`([A-Z][A-Z0-9_]*)=`)
	composeVar = regexp.MustCompile(`\$\{([A-Z0-9_]+)`)
)

// TestDocCommandsNameRealFiles: every file a documented command copies or
// loads exists, relative to the repository root where the docs say to run
// them.
func TestDocCommandsNameRealFiles(t *testing.T) {
	for _, f := range docFiles(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			var named []string
			for _, m := range cpCommand.FindAllStringSubmatch(line, -1) {
				named = append(named, m[1])
			}
			for _, m := range configFlag.FindAllStringSubmatch(line, -1) {
				named = append(named, m[1])
			}
			for _, n := range named {
				if _, err := os.Stat(filepath.Join("..", filepath.FromSlash(n))); err != nil {
					t.Errorf("%s:%d: the command names %s, which does not exist: %s", f, i+1, n, strings.TrimSpace(line))
				}
			}
		}
	}
}

// TestExampleHeadersNameTheirEnv: an example whose header says what to
// export names exactly the variables the config reads.
func TestExampleHeadersNameTheirEnv(t *testing.T) {
	files, _ := filepath.Glob("../examples/*.hcl")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var said, read []string
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "#") && strings.Contains(line, "export ") {
				for _, m := range exportVar.FindAllStringSubmatch(line, -1) {
					said = append(said, m[1])
				}
			}
		}
		if len(said) == 0 {
			continue
		}
		for _, m := range envCall.FindAllStringSubmatch(string(b), -1) {
			read = append(read, m[1])
		}
		slices.Sort(said)
		slices.Sort(read)
		said, read = slices.Compact(said), slices.Compact(read)
		if !slices.Equal(said, read) {
			t.Errorf("%s: the header exports %v, the config reads %v", filepath.Base(f), said, read)
		}
	}
}

// TestComposeEnv: docker-compose.yml's variables are exactly those of
// .env.example, and compose.hcl reads only what compose passes to
// balance.
func TestComposeEnv(t *testing.T) {
	compose, err := os.ReadFile("../examples/docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("../examples/.env.example")
	if err != nil {
		t.Fatal(err)
	}
	var used, listed []string
	for _, m := range composeVar.FindAllStringSubmatch(string(compose), -1) {
		used = append(used, m[1])
	}
	for _, line := range strings.Split(string(example), "\n") {
		if name, _, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			listed = append(listed, strings.TrimSpace(name))
		}
	}
	slices.Sort(used)
	slices.Sort(listed)
	used, listed = slices.Compact(used), slices.Compact(listed)
	if !slices.Equal(used, listed) {
		t.Errorf("docker-compose.yml uses %v, .env.example lists %v", used, listed)
	}

	// The balance service's environment: block, "NAME: value" lines.
	svc := string(compose)[strings.Index(string(compose), "\n  balance:"):]
	envBlock := yamlBlock(t, svc, "environment:")
	passed := map[string]bool{}
	for _, line := range strings.Split(envBlock, "\n") {
		if name, _, ok := strings.Cut(line, ":"); ok {
			passed[strings.TrimSpace(name)] = true
		}
	}
	hclSrc, err := os.ReadFile("../examples/compose.hcl")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range envCall.FindAllStringSubmatch(string(hclSrc), -1) {
		if !passed[m[1]] {
			t.Errorf("compose.hcl reads %s, which docker-compose.yml does not pass to balance", m[1])
		}
	}
}
