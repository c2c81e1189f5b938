package hcl

import (
	"bufio"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// REFERENCE.md is the user's contract: every attribute the schema accepts
// is documented there, nothing documented is missing from the schema, and
// every documented attribute names the test that proves it has an effect
// (testdata/setting_effects.txt). A setting that does nothing is a bug;
// this keeps a new one from landing without its proof.

var (
	blockHeading = regexp.MustCompile("^#{2,3} `([a-z_]+)")
	insideBlock  = regexp.MustCompile("\\(inside ([^)]*)\\)")
	quotedName   = regexp.MustCompile("`([a-z_]+)`")
	attrRow      = regexp.MustCompile("^\\| (`[a-z_]+`(?:, `[a-z_]+`)*) \\|")
)

// referenceAttributes reads "block.attr" (or "block.sub.attr") names from
// the attribute tables of REFERENCE.md.
func referenceAttributes(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("REFERENCE.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	var prefixes []string // a block documented "inside `a` or `b`" is in both
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if m := blockHeading.FindStringSubmatch(line); m != nil {
			prefixes = []string{m[1]}
			if p := insideBlock.FindStringSubmatch(line); p != nil {
				prefixes = nil
				for _, parent := range quotedName.FindAllStringSubmatch(p[1], -1) {
					prefixes = append(prefixes, parent[1]+"."+m[1])
				}
			}
			continue
		}
		if strings.HasPrefix(line, "## ") {
			prefixes = nil // a section that is not a block
			continue
		}
		if m := attrRow.FindStringSubmatch(line); m != nil {
			// A row may document several attributes: | `a`, `b` |.
			for _, name := range quotedName.FindAllStringSubmatch(m[1], -1) {
				for _, p := range prefixes {
					out = append(out, p+"."+name[1])
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// schemaAttributes walks the raw* types' hcl tags the way gohcl decodes.
func schemaAttributes(typ reflect.Type, prefix string) []string {
	var out []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, kind, _ := strings.Cut(f.Tag.Get("hcl"), ",")
		switch kind {
		case "label", "remain":
		case "block":
			elem := f.Type
			for elem.Kind() == reflect.Pointer || elem.Kind() == reflect.Slice {
				elem = elem.Elem()
			}
			p := name
			if prefix != "" {
				p = prefix + "." + name
			}
			out = append(out, schemaAttributes(elem, p)...)
		default:
			if name != "" {
				out = append(out, prefix+"."+name)
			}
		}
	}
	return out
}

func TestReferenceMatchesSchema(t *testing.T) {
	documented := referenceAttributes(t)
	schema := schemaAttributes(reflect.TypeFor[rawRoot](), "")
	for _, a := range schema {
		if !slices.Contains(documented, a) {
			t.Errorf("%s is accepted by the schema but not documented in REFERENCE.md", a)
		}
	}
	for _, a := range documented {
		if !slices.Contains(schema, a) {
			t.Errorf("%s is documented in REFERENCE.md but the schema does not accept it", a)
		}
	}
}

func TestEverySettingNamesItsEffectTest(t *testing.T) {
	b, err := os.ReadFile("testdata/setting_effects.txt")
	if err != nil {
		t.Fatal(err)
	}
	proven := map[string]bool{}
	sources := map[string]string{} // package dir → its test sources
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 3 {
			t.Errorf("setting_effects.txt:%d: want \"block.attr package/dir TestName\": %q", i+1, line)
			continue
		}
		attr, dir, test := fields[0], fields[1], fields[2]
		src, ok := sources[dir]
		if !ok {
			src = testSources(t, filepath.Join("..", filepath.FromSlash(dir)))
			sources[dir] = src
		}
		if !strings.Contains(src, "func "+test+"(") {
			t.Errorf("setting_effects.txt:%d: %s names %s in %s, which has no such test", i+1, attr, test, dir)
		}
		proven[attr] = true
	}
	for _, a := range referenceAttributes(t) {
		if !proven[a] {
			t.Errorf("%s is documented but no test proves its effect: add one and list it in testdata/setting_effects.txt", a)
		}
	}
}

// testSources concatenates the _test.go files of one package directory.
func testSources(t *testing.T, dir string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no tests in %s", dir)
	}
	var sb strings.Builder
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sb.Write(b)
	}
	return sb.String()
}
