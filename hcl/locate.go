package hcl

import (
	"fmt"
	"strings"

	hclv2 "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// A locator finds source ranges in the syntax tree for diagnostics raised
// after decoding, when gohcl has already turned attributes into values.
type locator struct {
	body *hclsyntax.Body
}

// block returns the i-th block of the given type directly under parent.
func (l locator) block(parent *hclsyntax.Body, typ string, i int) *hclsyntax.Block {
	if parent == nil {
		return nil
	}
	n := 0
	for _, b := range parent.Blocks {
		if b.Type != typ {
			continue
		}
		if n == i {
			return b
		}
		n++
	}
	return nil
}

// subBlock returns the first block of a type inside b (nil when b is).
func subBlock(b *hclsyntax.Block, typ string) *hclsyntax.Block {
	if b == nil {
		return nil
	}
	return locator{}.block(b.Body, typ, 0)
}

// top returns the i-th top-level block of a type.
func (l locator) top(typ string, i int) *hclsyntax.Block {
	return l.block(l.body, typ, i)
}

// labeled returns the first top-level block of a type with the given
// label (model labels may carry a "models/" prefix the config drops).
func (l locator) labeled(typ, label string) *hclsyntax.Block {
	if l.body == nil {
		return nil
	}
	for _, b := range l.body.Blocks {
		if b.Type == typ && len(b.Labels) > 0 && strings.TrimPrefix(b.Labels[0], "models/") == label {
			return b
		}
	}
	return nil
}

// attr returns the range of an attribute's value in b, falling back to the
// block's header when the attribute is absent (a missing-value problem).
func attrRange(b *hclsyntax.Block, name string) *hclv2.Range {
	if b == nil {
		return nil
	}
	if a, ok := b.Body.Attributes[name]; ok {
		r := a.Expr.Range()
		return &r
	}
	r := b.DefRange()
	return &r
}

// elemRange is the range of the i-th element of a list attribute written
// as a literal list, so "Unknown pool" points at the wrong name rather
// than the whole list. Any other expression falls back to attrRange.
func elemRange(b *hclsyntax.Block, name string, i int) *hclv2.Range {
	if b != nil {
		if a, ok := b.Body.Attributes[name]; ok {
			if t, ok := a.Expr.(*hclsyntax.TupleConsExpr); ok && i >= 0 && i < len(t.Exprs) {
				r := t.Exprs[i].Range()
				return &r
			}
		}
	}
	return attrRange(b, name)
}

// blockRange is the header range of b.
func blockRange(b *hclsyntax.Block) *hclv2.Range {
	if b == nil {
		return nil
	}
	r := b.DefRange()
	return &r
}

// errorf appends an error diagnostic, unless its subject lies in an
// expression that already failed to evaluate: that problem was reported
// and this one would only echo it.
func (l *loader) errorf(subject *hclv2.Range, summary, format string, args ...any) {
	if subject != nil && l.inFailed(*subject) {
		return
	}
	l.diags = append(l.diags, &hclv2.Diagnostic{
		Severity: hclv2.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  subject,
	})
}

// warnf appends a warning diagnostic.
func (l *loader) warnf(subject *hclv2.Range, summary, format string, args ...any) {
	l.diags = append(l.diags, &hclv2.Diagnostic{
		Severity: hclv2.DiagWarning,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  subject,
	})
}

// fail is errorf for a problem that makes the attribute's value unusable
// (an unreadable keys_file): it also marks the range failed, so checks on
// the same block do not echo it.
func (l *loader) fail(subject *hclv2.Range, summary, format string, args ...any) {
	l.errorf(subject, summary, format, args...)
	if subject != nil {
		l.failed = append(l.failed, *subject)
	}
}

// inFailed reports whether r overlaps an expression that failed to decode.
func (l *loader) inFailed(r hclv2.Range) bool {
	for _, f := range l.failed {
		if f.Filename == r.Filename && f.Overlaps(r) {
			return true
		}
	}
	return false
}

// blockFailed reports whether any attribute in b failed to decode, or b
// holds a misspelt attribute. Block-level "missing X" checks stay quiet
// then: the missing value is almost always the one that failed.
func (l *loader) blockFailed(b *hclsyntax.Block) bool {
	if b == nil {
		return false
	}
	return l.inFailed(b.Body.Range())
}

// at formats where a range starts, as "file:line:col", for messages that
// point at a second place ("first declared at ...").
func at(r *hclv2.Range) string {
	if r == nil {
		return "an earlier block"
	}
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}

// explainTypeErrors names the attribute in gohcl's type errors, which
// otherwise say only "Unsuitable value: a number is required".
func (l *loader) explainTypeErrors(diags hclv2.Diagnostics) hclv2.Diagnostics {
	for _, d := range diags {
		if d.Summary == "Unknown variable" {
			d.Detail += " balance.hcl has only local.* values (declare them in a locals block) and the functions env() and file()."
			continue
		}
		if d.Subject == nil || d.Summary != "Unsuitable value type" && d.Summary != "Incorrect attribute value type" {
			continue
		}
		if name := attrAt(l.syntax, *d.Subject); name != "" {
			d.Summary = "Incorrect attribute value type"
			d.Detail = fmt.Sprintf("Inappropriate value for attribute %q: %s", name, strings.TrimPrefix(d.Detail, "Unsuitable value: "))
		}
	}
	return diags
}

// attrAt names the innermost attribute whose value contains r.
func attrAt(body *hclsyntax.Body, r hclv2.Range) string {
	if body == nil {
		return ""
	}
	for name, a := range body.Attributes {
		if a.Expr.Range().Overlaps(r) {
			return name
		}
	}
	for _, b := range body.Blocks {
		if b.Body.Range().Overlaps(r) {
			return attrAt(b.Body, r)
		}
	}
	return ""
}
