package engine

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Requests that name a stateful Gemini resource (an uploaded file, a
// cached content) must go to the key whose project holds it. The scan
// below finds those names in a request body without parsing it: a body
// that holds none of the words a reference needs costs a few byte
// searches and nothing else.

// resourceRefs are the resources one request names.
type resourceRefs struct {
	files []string // "files/ID"
	cache string   // "cachedContents/ID"
}

var (
	// A JSON escape can spell a name without its letters (\u0066iles),
	// so a body with one is scanned as well.
	escUnicode  = []byte(`\u`)
	wordFiles   = []byte("files")
	wordFilesEs = []byte(`files\`) // files\/ID
	wordCached  = []byte("cachedContents")
)

// mayNameResource is the cheap test that rules most bodies out: every
// reference holds "files/" or "cachedContents/" (the slash maybe written
// \/), or an escape that can spell one. It looks at each '/' of the body,
// which prose rarely holds many of.
func mayNameResource(body []byte) bool {
	for i := 0; ; {
		j := bytes.IndexByte(body[i:], '/')
		if j < 0 {
			break
		}
		i += j
		before := body[:i]
		if bytes.HasSuffix(before, wordFiles) || bytes.HasSuffix(before, wordFilesEs) || bytes.HasSuffix(before, wordCached) {
			return true
		}
		i++
	}
	return bytes.Contains(body, escUnicode)
}

// refKind is what a JSON key says of its string value.
type refKind uint8

const (
	refNone refKind = iota
	refFile
	refCache
)

// refKeyKind reports the keys whose string value names a resource: a
// part's fileData.fileUri, a batch's input file, an OpenAI file part's
// file_id, a generate's cachedContent.
func refKeyKind(k string) refKind {
	switch k {
	case "fileUri", "file_uri", "fileName", "file_name", "file_id", "fileId":
		return refFile
	case "cachedContent", "cached_content":
		return refCache
	}
	return refNone
}

// scanResourceRefs finds every file and cached content body names, at any
// depth: the string values of the keys refKeyKind lists. It reads the
// body as JSON tokens without building anything; keys are compared in
// place and only a reference's value is copied. The body is valid JSON
// (the driver checked it); an invalid one yields what was read.
func scanResourceRefs(body []byte, refs *resourceRefs) {
	kind := refNone
	for i := 0; i < len(body); i++ {
		switch body[i] {
		case '{', '[', ',':
			kind = refNone
			continue
		case '"':
		default:
			continue
		}
		end := stringEnd(body, i+1)
		if end < 0 {
			return
		}
		raw := body[i+1 : end]
		escaped := bytes.IndexByte(raw, '\\') >= 0
		i = end
		j := end + 1
		for j < len(body) && (body[j] == ' ' || body[j] == '\n' || body[j] == '\r' || body[j] == '\t') {
			j++
		}
		if j < len(body) && body[j] == ':' {
			if escaped {
				kind = refKeyKind(decodeJSONString(raw, true))
			} else {
				kind = refKeyKind(string(raw)) // no copy: a switch on string(b)
			}
			continue
		}
		k := kind
		kind = refNone
		if k == refNone {
			continue
		}
		v := decodeJSONString(raw, escaped)
		if k == refCache {
			refs.cache = v
			continue
		}
		if name, ok := fileName(v); ok {
			refs.files = append(refs.files, name)
		} else if strings.Contains(v, "files/") {
			// Not a name balance can read: kept as is, it matches no
			// record, so the request is refused rather than sent to a
			// key that may not own it.
			refs.files = append(refs.files, v)
		}
	}
}

// stringEnd returns the index of the quote closing a JSON string whose
// content starts at i: the first quote not escaped by an odd run of
// backslashes.
func stringEnd(b []byte, i int) int {
	for {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			return -1
		}
		q += i
		n := 0
		for k := q - 1; k >= i && b[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return q
		}
		i = q + 1
	}
}

// decodeJSONString turns a JSON string's raw bytes into the string a
// JSON parser (Google's) would see.
func decodeJSONString(raw []byte, escaped bool) string {
	if !escaped {
		return string(raw)
	}
	var s string
	quoted := make([]byte, 0, len(raw)+2)
	quoted = append(append(append(quoted, '"'), raw...), '"')
	if json.Unmarshal(quoted, &s) != nil {
		return string(raw)
	}
	return s
}

// fileName reads a file reference as Google accepts it: "files/ID" or an
// absolute URI ending in /{version}/files/ID.
func fileName(v string) (string, bool) {
	if !strings.HasPrefix(v, "files/") {
		i := strings.LastIndex(v, "/files/")
		if i < 0 || !(strings.HasPrefix(v, "https://") || strings.HasPrefix(v, "http://")) {
			return "", false
		}
		v = v[i+1:]
	}
	if !validResourceID(v[len("files/"):]) {
		return "", false
	}
	return v, true
}

// validResourceID reports whether id can be the last segment of a
// resource name: Google's ids are lower-case letters, digits and '-';
// upload ids add upper case and '_'. Anything else never reaches a path.
func validResourceID(id string) bool {
	if id == "" || len(id) > 200 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}
