package hcl

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	hclv2 "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Options change how a config is loaded. The zero value reads the process
// environment.
type Options struct {
	// LookupEnv replaces os.LookupEnv for env(); tests use it.
	LookupEnv func(string) (string, bool)
	// CheckHook, when set, is called with every hook block that is valid
	// on its own; an error becomes a diagnostic on the block's module
	// attribute. Load itself only reads a module and checks its magic
	// bytes; `balance validate` passes a CheckHook that loads the module
	// (compile, exports, instantiate, ABI version) exactly as the proxy
	// does, so a config it accepts has hooks the proxy accepts.
	CheckHook func(*Hook) error
}

// Error carries every diagnostic of a rejected config. Error() gives one
// "file:line:col: summary: detail" line per problem; Render adds the
// source line and a caret, as the validate command prints them.
type Error struct {
	Diags hclv2.Diagnostics
	// Files lists every file the rejected config tried to read, the
	// config file first, including ones that were missing, so a watcher
	// can wait for a missing keys file to appear.
	Files []string
	files map[string]*hclv2.File
}

func (e *Error) Error() string {
	var b strings.Builder
	for i, d := range e.Diags {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(FormatDiagnostic(d))
	}
	return b.String()
}

// Render writes the diagnostics with source snippets.
func (e *Error) Render(w io.Writer, width uint, color bool) error {
	return hclv2.NewDiagnosticTextWriter(w, e.files, width, color).WriteDiagnostics(e.Diags)
}

// Report writes one "file:line:col: summary: detail" line per diagnostic,
// each followed, when snippets is set, by the source line indented under
// it with a caret marking the subject. Only the first line of each entry
// starts at column 0, so `grep -v '^ '` recovers the plain form.
func (e *Error) Report(w io.Writer, snippets bool) {
	for _, d := range e.Diags {
		fmt.Fprintln(w, FormatDiagnostic(d))
		if !snippets || d.Subject == nil {
			continue
		}
		f := e.files[d.Subject.Filename]
		if f == nil {
			continue
		}
		line := sourceLine(f.Bytes, d.Subject.Start.Line)
		if line == "" {
			continue
		}
		prefix := fmt.Sprintf("  %4d | ", d.Subject.Start.Line)
		fmt.Fprintf(w, "%s%s\n", prefix, line)
		width := 1
		if d.Subject.End.Line == d.Subject.Start.Line && d.Subject.End.Column > d.Subject.Start.Column {
			width = d.Subject.End.Column - d.Subject.Start.Column
		}
		col := min(d.Subject.Start.Column-1, len(line))
		// Keep tabs so the caret lines up under tab-indented source.
		pad := strings.Map(func(r rune) rune {
			if r == '\t' {
				return r
			}
			return ' '
		}, line[:col])
		fmt.Fprintf(w, "%s%s%s\n", strings.Repeat(" ", len(prefix)), pad, strings.Repeat("^", width))
	}
}

// sourceLine returns line n (1-based) of src without its newline.
func sourceLine(src []byte, n int) string {
	for i := 1; i < n; i++ {
		j := bytes.IndexByte(src, '\n')
		if j < 0 {
			return ""
		}
		src = src[j+1:]
	}
	if j := bytes.IndexByte(src, '\n'); j >= 0 {
		src = src[:j]
	}
	return strings.TrimRight(string(src), "\r")
}

// FormatDiagnostic renders one diagnostic as "file:line:col: summary: detail".
func FormatDiagnostic(d *hclv2.Diagnostic) string {
	var b strings.Builder
	if d.Subject != nil {
		fmt.Fprintf(&b, "%s:%d:%d: ", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
	}
	if d.Severity == hclv2.DiagWarning {
		b.WriteString("warning: ")
	}
	b.WriteString(d.Summary)
	if d.Detail != "" {
		b.WriteString(": ")
		b.WriteString(d.Detail)
	}
	return b.String()
}

// Load reads, decodes and validates the config at path. On failure the
// error is an *Error holding every diagnostic.
func Load(path string) (*Config, error) {
	return LoadWith(path, Options{})
}

// LoadWith is Load with options.
func LoadWith(path string, opts Options) (*Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return LoadBytes(path, src, opts)
}

// LoadBytes decodes src as if it had been read from path; relative file
// references resolve against path's directory.
func LoadBytes(path string, src []byte, opts Options) (*Config, error) {
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	l := &loader{
		path:   abs,
		parser: hclparse.NewParser(),
		files:  newFileReader(filepath.Dir(abs)),
		opts:   opts,
	}
	cfg, diags := l.load(path, src)
	diags = sortDiags(dedupe(diags))
	if diags.HasErrors() {
		files := append([]string{l.path}, l.files.attempted...)
		return nil, &Error{Diags: diags, Files: files, files: l.parser.Files()}
	}
	for _, d := range diags {
		cfg.Warnings = append(cfg.Warnings, FormatDiagnostic(d))
	}
	return cfg, nil
}

// sortDiags orders diagnostics by file and position, so output is stable
// and reads top to bottom like the file.
func sortDiags(diags hclv2.Diagnostics) hclv2.Diagnostics {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		if a == nil || b == nil {
			return a != nil
		}
		if a.Filename != b.Filename {
			return a.Filename < b.Filename
		}
		return a.Start.Byte < b.Start.Byte
	})
	return diags
}

type loader struct {
	path   string
	parser *hclparse.Parser
	files  *fileReader
	opts   Options
	ctx    *hclv2.EvalContext
	diags  hclv2.Diagnostics
	syntax *hclsyntax.Body
	// failed holds the source ranges of expressions that could not be
	// evaluated or decoded. Checks that would only repeat the failure
	// ("Pool has no keys" after env() failed in keys) stay quiet there.
	failed []hclv2.Range
}

func (l *loader) load(name string, src []byte) (*Config, hclv2.Diagnostics) {
	file, diags := l.parser.ParseHCL(src, name)
	if diags.HasErrors() {
		return nil, diags
	}
	var ok bool
	if l.syntax, ok = file.Body.(*hclsyntax.Body); !ok {
		return nil, hclv2.Diagnostics{{Severity: hclv2.DiagError, Summary: "Unsupported config syntax", Detail: "balance.hcl must be HCL native syntax."}}
	}

	// Pass 1: locals, evaluated before anything that may refer to them.
	content, rest, d := file.Body.PartialContent(&hclv2.BodySchema{
		Blocks: []hclv2.BlockHeaderSchema{{Type: "locals"}},
	})
	l.diags = append(l.diags, d...)
	l.ctx = &hclv2.EvalContext{Functions: l.files.functions(l.opts.LookupEnv)}
	l.ctx.Variables = map[string]cty.Value{"local": l.evalLocals(content.Blocks)}

	// Pass 2: decode every block. Every range that failed here is
	// remembered so later passes do not pile follow-on errors onto it.
	var raw rawRoot
	decoded := gohcl.DecodeBody(rest, l.ctx, &raw)
	for _, d := range decoded {
		if d.Severity == hclv2.DiagError && d.Subject != nil {
			l.failed = append(l.failed, *d.Subject)
		}
	}
	l.diags = append(l.diags, l.explainTypeErrors(decoded)...)

	// Passes 3 and 4: references and values. They run even after decode
	// errors so one run reports every problem; they tolerate the zero
	// values a failed attribute leaves behind.
	cfg := l.build(&raw)
	if l.diags.HasErrors() {
		return nil, l.diags
	}
	cfg.Path = l.path
	h := sha256.New()
	h.Write(src)
	cfg.Files = []string{l.path}
	names := append([]string(nil), l.files.order...)
	sort.Strings(names)
	for _, f := range names {
		// Hash the path relative to the config, so the same checkout in
		// two places has the same hash.
		rel, err := filepath.Rel(filepath.Dir(l.path), f)
		if err != nil {
			rel = f
		}
		h.Write([]byte(rel))
		h.Write(l.files.files[f])
		cfg.Files = append(cfg.Files, f)
	}
	cfg.Hash = hex.EncodeToString(h.Sum(nil))
	return cfg, l.diags
}

// evalLocals evaluates locals in dependency order, so a local may use
// another declared after it. Cycles and unknown names are diagnosed.
func (l *loader) evalLocals(blocks hclv2.Blocks) cty.Value {
	pending := map[string]*hclv2.Attribute{}
	for _, b := range blocks {
		attrs, d := b.Body.JustAttributes()
		l.diags = append(l.diags, d...)
		for name, a := range attrs {
			if prev, dup := pending[name]; dup {
				l.diags = append(l.diags, &hclv2.Diagnostic{
					Severity: hclv2.DiagError,
					Summary:  "Duplicate local value",
					Detail:   fmt.Sprintf("Local %q was already defined at %s.", name, at(&prev.NameRange)),
					Subject:  a.NameRange.Ptr(),
				})
				continue
			}
			pending[name] = a
		}
	}
	values := map[string]cty.Value{}
	for len(pending) > 0 {
		progressed := false
		names := make([]string, 0, len(pending))
		for n := range pending {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, name := range names {
			a := pending[name]
			ready := true
			for _, tr := range a.Expr.Variables() {
				if tr.RootName() != "local" || len(tr) < 2 {
					continue
				}
				if step, ok := tr[1].(hclv2.TraverseAttr); ok {
					if _, waiting := pending[step.Name]; waiting && step.Name != name {
						ready = false
					}
				}
			}
			if !ready {
				continue
			}
			ctx := l.ctx.NewChild()
			ctx.Variables = map[string]cty.Value{"local": cty.ObjectVal(values)}
			v, d := a.Expr.Value(ctx)
			l.diags = append(l.diags, d...)
			if v == cty.NilVal {
				v = cty.DynamicVal
			}
			values[name] = v
			delete(pending, name)
			progressed = true
		}
		if !progressed {
			for _, name := range names {
				// Unknown, so attributes using it fail quietly
				// instead of repeating "no attribute named".
				values[name] = cty.DynamicVal
				l.diags = append(l.diags, &hclv2.Diagnostic{
					Severity: hclv2.DiagError,
					Summary:  "Cycle in local values",
					Detail:   fmt.Sprintf("Local %q depends on itself through other locals.", name),
					Subject:  pending[name].Expr.Range().Ptr(),
				})
			}
			break
		}
	}
	return cty.ObjectVal(values)
}

// dedupe drops the "value must be known" echo that follows a failed
// function call, so a missing env var is reported once.
func dedupe(diags hclv2.Diagnostics) hclv2.Diagnostics {
	out := diags[:0:0]
	seen := map[string]bool{}
	for _, d := range diags {
		if strings.Contains(d.Detail, "must be known") {
			continue
		}
		key := d.Summary + d.Detail
		if d.Subject != nil {
			key += d.Subject.String()
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, d)
	}
	return out
}
