package hcl

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// fileReader remembers every file a config read, so the watcher can watch
// them and the config hash covers them.
type fileReader struct {
	baseDir string
	files   map[string][]byte
	order   []string
	// attempted lists every path tried, readable or not, so a rejected
	// config still tells the watcher which file to wait for.
	attempted []string
}

func newFileReader(baseDir string) *fileReader {
	return &fileReader{baseDir: baseDir, files: map[string][]byte{}}
}

// abs resolves p against the config file's directory.
func (r *fileReader) abs(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(r.baseDir, p)
}

func (r *fileReader) read(p string) ([]byte, error) {
	full := r.abs(p)
	if b, ok := r.files[full]; ok {
		return b, nil
	}
	r.attempted = append(r.attempted, full)
	b, err := os.ReadFile(full)
	if err != nil {
		return nil, err
	}
	r.files[full] = b
	r.order = append(r.order, full)
	return b, nil
}

// functions returns the function table of balance.hcl: env() and file()
// plus a useful subset of the cty standard library.
func (r *fileReader) functions(lookupEnv func(string) (string, bool)) map[string]function.Function {
	env := function.New(&function.Spec{
		Description: "Reads an environment variable; fails when it is unset so an empty secret is never used silently.",
		Params:      []function.Parameter{{Name: "name", Type: cty.String}},
		VarParam:    &function.Parameter{Name: "default", Type: cty.String},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			name := args[0].AsString()
			if v, ok := lookupEnv(name); ok {
				return cty.StringVal(v), nil
			}
			if len(args) > 1 {
				return args[1], nil
			}
			return cty.NilVal, fmt.Errorf("environment variable %q is not set (give env(%q, \"default\") a default to allow that)", name, name)
		},
	})
	file := function.New(&function.Spec{
		Description: "Reads a file relative to the config file's directory; surrounding whitespace is trimmed.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p := args[0].AsString()
			b, err := r.read(p)
			if err != nil {
				return cty.NilVal, fmt.Errorf("cannot read file %q: %w", p, unwrapPathError(err))
			}
			return cty.StringVal(strings.TrimSpace(string(b))), nil
		},
	})
	lines := function.New(&function.Spec{
		Description: "Splits text into trimmed, non-empty lines that do not start with #.",
		Params:      []function.Parameter{{Name: "text", Type: cty.String}},
		Type:        function.StaticReturnType(cty.List(cty.String)),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			var out []cty.Value
			for _, l := range strings.Split(args[0].AsString(), "\n") {
				l = strings.TrimSpace(l)
				if l == "" || strings.HasPrefix(l, "#") {
					continue
				}
				out = append(out, cty.StringVal(l))
			}
			if len(out) == 0 {
				return cty.ListValEmpty(cty.String), nil
			}
			return cty.ListVal(out), nil
		},
	})
	return map[string]function.Function{
		"env":        env,
		"file":       file,
		"lines":      lines,
		"concat":     stdlib.ConcatFunc,
		"split":      stdlib.SplitFunc,
		"join":       stdlib.JoinFunc,
		"trimspace":  stdlib.TrimSpaceFunc,
		"trim":       stdlib.TrimFunc,
		"trimprefix": stdlib.TrimPrefixFunc,
		"trimsuffix": stdlib.TrimSuffixFunc,
		"lower":      stdlib.LowerFunc,
		"upper":      stdlib.UpperFunc,
		"format":     stdlib.FormatFunc,
		"formatlist": stdlib.FormatListFunc,
		"replace":    stdlib.ReplaceFunc,
		"regex":      stdlib.RegexFunc,
		"regexall":   stdlib.RegexAllFunc,
		"length":     stdlib.LengthFunc,
		"coalesce":   stdlib.CoalesceFunc,
		"compact":    stdlib.CompactFunc,
		"distinct":   stdlib.DistinctFunc,
		"flatten":    stdlib.FlattenFunc,
		"merge":      stdlib.MergeFunc,
		"range":      stdlib.RangeFunc,
		"slice":      stdlib.SliceFunc,
		"contains":   stdlib.ContainsFunc,
		"keys":       stdlib.KeysFunc,
		"values":     stdlib.ValuesFunc,
		"lookup":     stdlib.LookupFunc,
		"min":        stdlib.MinFunc,
		"max":        stdlib.MaxFunc,
		"jsonencode": stdlib.JSONEncodeFunc,
		"jsondecode": stdlib.JSONDecodeFunc,
		"tostring":   stdlib.MakeToFunc(cty.String),
		"tonumber":   stdlib.MakeToFunc(cty.Number),
		"tobool":     stdlib.MakeToFunc(cty.Bool),
		"tolist":     stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
	}
}

// unwrapPathError drops the path os.ReadFile repeats, since the caller
// already names it.
func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
