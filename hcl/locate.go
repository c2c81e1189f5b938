package hcl

import (
	"fmt"

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

// top returns the i-th top-level block of a type.
func (l locator) top(typ string, i int) *hclsyntax.Block {
	return l.block(l.body, typ, i)
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

// blockRange is the header range of b.
func blockRange(b *hclsyntax.Block) *hclv2.Range {
	if b == nil {
		return nil
	}
	r := b.DefRange()
	return &r
}

// errorf appends an error diagnostic.
func (l *loader) errorf(subject *hclv2.Range, summary, format string, args ...any) {
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
