// Package secret keeps API keys and client tokens out of logs, stats and
// responses. Everything that leaves the process names a key by its
// fingerprint, never by its value.
package secret

import (
	"bytes"
	"math/bits"
	"slices"
	"sync"
	"unsafe"
)

// Known is a secret a Redactor hides and the name it shows instead.
type Known struct {
	Value string
	// Name replaces Value; empty means Fingerprint(Value).
	Name string
}

// Redactor replaces every occurrence of a known set of secrets in a text
// with their names (fingerprints). Google's own error messages can quote
// the full key (leaked-key and suspension 403s do), so upstream bodies and
// headers pass through a Redactor before they are logged, stored or
// returned.
//
// A secret is found verbatim and also written with escapes: JSON's
// \uXXXX (either case, surrogate pairs), \/ and the other short escapes,
// Go's \xHH, and URL %HH, in any mix and nested up to three levels deep
// ("\\u002d" inside a JSON string inside a JSON string). The whole escaped
// run is replaced.
//
// Matching costs about the same for one secret as for thousands: a rolling
// window over the text is checked against a bitset of the secrets' last
// bytes, and only a hit is looked up. A text without any secret is returned
// as it is, without allocating.
//
// A Redactor is immutable once built and safe for concurrent use.
type Redactor struct {
	secrets [][]byte
	names   [][]byte
	// w is the window length: the shortest secret, at most 8 bytes.
	w int
	// shortest is the length of the shortest secret: a shorter text
	// holds none, verbatim or escaped (escapes only lengthen it).
	shortest int
	mask     uint64
	// filter has a bit set for the hash of every secret's last w bytes;
	// tails maps those bytes to the secrets that end with them.
	filter []uint64
	shift  uint
	tails  map[uint64][]int32
}

// minSecret is the shortest secret a Redactor hides: shorter strings are
// too likely to occur by chance in any text.
const minSecret = 6

// NewRedactor builds a Redactor that shows each secret as its
// Fingerprint. Secrets shorter than six bytes and duplicates are ignored;
// where two secrets overlap in a text, the longer run is replaced whole.
func NewRedactor(secrets []string) *Redactor {
	known := make([]Known, len(secrets))
	for i, s := range secrets {
		known[i] = Known{Value: s}
	}
	return NewRedactorWith(known)
}

// NewRedactorWith is NewRedactor with a chosen name per secret (pool keys
// are shown by their KeyFingerprint, so a redacted error names the same
// key as status does). The first entry for a value wins.
func NewRedactorWith(known []Known) *Redactor {
	seen := make(map[string]bool, len(known))
	r := &Redactor{w: 8}
	for _, k := range known {
		if len(k.Value) < minSecret || seen[k.Value] {
			continue
		}
		seen[k.Value] = true
		if k.Name == "" {
			k.Name = Fingerprint(k.Value)
		}
		r.secrets = append(r.secrets, []byte(k.Value))
		r.names = append(r.names, []byte(k.Name))
		r.w = min(r.w, len(k.Value))
		if r.shortest == 0 || len(k.Value) < r.shortest {
			r.shortest = len(k.Value)
		}
	}
	if len(r.secrets) == 0 {
		return r
	}
	r.mask = 1<<(8*r.w) - 1
	if r.w == 8 {
		r.mask = ^uint64(0)
	}
	// About 64 bits per secret keeps false hits near 1/64 per position.
	size := max(1<<12, 1<<bits.Len(uint(64*len(r.secrets))))
	size = min(size, 1<<22)
	r.filter = make([]uint64, size/64)
	r.shift = uint(64 - bits.TrailingZeros(uint(size)))
	r.tails = make(map[uint64][]int32, len(r.secrets))
	for i, s := range r.secrets {
		t := tail(s, r.w)
		h := r.hash(t)
		r.filter[h/64] |= 1 << (h % 64)
		r.tails[t] = append(r.tails[t], int32(i))
	}
	return r
}

func tail(s []byte, w int) uint64 {
	var t uint64
	for _, c := range s[len(s)-w:] {
		t = t<<8 | uint64(c)
	}
	return t
}

func (r *Redactor) hash(t uint64) uint64 { return (t * 0x9E3779B97F4A7C15) >> r.shift }

// maxPasses bounds how often a text is rescanned: a replacement next to
// leftover characters can form a secret again ("xxxxxxx…" style secrets).
const maxPasses = 8

// Bytes returns b with every known secret replaced by its name. When no
// secret occurs, b itself is returned and nothing is allocated. b is never
// modified.
func (r *Redactor) Bytes(b []byte) []byte {
	if r == nil || len(r.secrets) == 0 {
		return b
	}
	out := b
	for range maxPasses {
		if !r.contains(out) {
			break
		}
		out = r.replace(out)
	}
	return out
}

// String is Bytes for strings.
func (r *Redactor) String(s string) string {
	if r == nil || len(r.secrets) == 0 || len(s) == 0 {
		return s
	}
	// Bytes never writes to its argument, so it may read s in place.
	b := unsafe.Slice(unsafe.StringData(s), len(s))
	if out := r.Bytes(b); !same(out, b) {
		return string(out)
	}
	return s
}

// contains reports whether b holds a secret, verbatim or escaped.
func (r *Redactor) contains(b []byte) bool {
	if len(b) < r.shortest {
		return false
	}
	if len(r.scan(b, nil, true)) > 0 {
		return true
	}
	if !hasEscape(b) {
		return false
	}
	bufs := decodeBufs.Get().(*[2][]byte)
	defer decodeBufs.Put(bufs)
	src := b
	for i := range maxEscapeDepth {
		dst, ok := unescapeText(bufs[i%2][:0], src)
		bufs[i%2] = dst
		if !ok {
			return false
		}
		if len(r.scan(dst, nil, true)) > 0 {
			return true
		}
		src = dst
	}
	return false
}

var decodeBufs = sync.Pool{New: func() any { return new([2][]byte) }}

// scan appends the matches of every secret in text to spans (only the
// first one when first is set).
func (r *Redactor) scan(text []byte, spans []span, first bool) []span {
	if len(text) < r.w {
		return spans
	}
	var win uint64
	for i, c := range text {
		win = (win<<8 | uint64(c)) & r.mask
		if i+1 < r.w {
			continue
		}
		h := r.hash(win)
		if r.filter[h/64]&(1<<(h%64)) == 0 {
			continue
		}
		for _, si := range r.tails[win] {
			s := r.secrets[si]
			if start := i + 1 - len(s); start >= 0 && bytes.Equal(text[start:i+1], s) {
				spans = append(spans, span{start, i + 1, int(si)})
				if first {
					return spans
				}
			}
		}
	}
	return spans
}

// replace returns a copy of b with every match, verbatim or escaped,
// replaced by its secret's name.
func (r *Redactor) replace(b []byte) []byte {
	spans := r.scan(b, nil, false)
	if hasEscape(b) {
		v := identityView(b)
		for range maxEscapeDepth {
			next, ok := v.unescape()
			if !ok {
				break
			}
			v = next
			for _, m := range r.scan(v.text, nil, false) {
				spans = append(spans, span{v.start[m.from], v.end[m.to-1], m.secret})
			}
		}
	}
	if len(spans) == 0 {
		return b
	}
	// Leftmost first; at one start the longest run. Overlapping matches
	// become one replacement named after the first.
	slices.SortFunc(spans, func(a, b span) int {
		if a.from != b.from {
			return a.from - b.from
		}
		return b.to - a.to
	})
	out := make([]byte, 0, len(b))
	pos := 0
	for i := 0; i < len(spans); {
		sp := spans[i]
		for i++; i < len(spans) && spans[i].from < sp.to; i++ {
			sp.to = max(sp.to, spans[i].to)
		}
		out = append(out, b[pos:sp.from]...)
		out = append(out, r.names[sp.secret]...)
		pos = sp.to
	}
	return append(out, b[pos:]...)
}

// span is a run of the original text [from, to) that spells a secret.
type span struct{ from, to, secret int }

// same reports whether a is b (Bytes returns its argument when it changes
// nothing).
func same(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}
