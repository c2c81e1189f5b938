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
	wordFiles  = []byte("files")
	wordCached = []byte("cachedContents")
	// A JSON escape can spell either word without its letters (\u0066iles,
	// files\/abc), so a body with these escapes is scanned as well.
	escUnicode = []byte(`\u`)
	escSlash   = []byte(`\/`)
)

// mayNameResource is the cheap test that rules most bodies out.
func mayNameResource(body []byte) bool {
	return bytes.Contains(body, wordFiles) || bytes.Contains(body, wordCached) ||
		bytes.Contains(body, escUnicode) || bytes.Contains(body, escSlash)
}

// refKey reports the JSON keys whose string value names a resource: a
// part's fileData.fileUri, a batch's input file, an OpenAI file part's
// file_id, a generate's cachedContent.
func refKey(k string) (file, cache bool) {
	switch k {
	case "fileUri", "file_uri", "fileName", "file_name", "file_id", "fileId":
		return true, false
	case "cachedContent", "cached_content":
		return false, true
	}
	return false, false
}

// scanResourceRefs finds every file and cached content body names, at any
// depth: the string values of the keys refKey lists. The body is valid
// JSON (the driver checked it); an invalid one yields what was read.
func scanResourceRefs(body []byte, refs *resourceRefs) {
	var lastKey string
	for i := 0; i < len(body); i++ {
		switch body[i] {
		case '{', '[', ',':
			lastKey = ""
			continue
		case '"':
		default:
			continue
		}
		end, escaped := stringEnd(body, i+1)
		if end < 0 {
			return
		}
		raw := body[i+1 : end]
		i = end
		j := end + 1
		for j < len(body) && (body[j] == ' ' || body[j] == '\n' || body[j] == '\r' || body[j] == '\t') {
			j++
		}
		if j < len(body) && body[j] == ':' {
			lastKey = decodeJSONString(raw, escaped)
			continue
		}
		file, cache := refKey(lastKey)
		lastKey = ""
		if !file && !cache {
			continue
		}
		v := decodeJSONString(raw, escaped)
		if cache {
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

// stringEnd returns the index of the quote closing a JSON string that
// starts at i, and whether the string holds escapes.
func stringEnd(b []byte, i int) (int, bool) {
	escaped := false
	for ; i < len(b); i++ {
		switch b[i] {
		case '\\':
			escaped = true
			i++
		case '"':
			return i, escaped
		}
	}
	return -1, escaped
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
