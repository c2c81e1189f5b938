package gemini

import "strings"

// Call is a parsed Gemini REST path: "/v1beta/models/gemini-2.5-flash:generateContent".
type Call struct {
	// Version is "v1beta" or "v1".
	Version string
	// Model is the model name without "models/"; "" for the models list.
	Model string
	// Method is the custom method after the colon ("generateContent",
	// "streamGenerateContent", ...) or "" for models get/list.
	Method string
	// Tuned is set for tunedModels/{id} paths.
	Tuned bool
}

// Methods the proxy forwards as plain model calls, and whether each sends
// a streamed answer. The methods that create a resource
// (batchGenerateContent, predictLongRunning) are the Files adapter's.
var methods = map[string]bool{
	"generateContent":       false,
	"streamGenerateContent": true,
	"countTokens":           false,
	"embedContent":          false,
	"batchEmbedContents":    false,
	"predict":               false,
}

// Streams reports whether the method's answer is streamed.
func (c Call) Streams() bool { return methods[c.Method] }

// ParsePath parses the part of a path after the route prefix ("/gemini" or
// nothing): "/v1beta/models", "/v1beta/models/m", "/v1beta/models/m:method".
// ok is false for anything the proxy does not forward.
func ParsePath(p string) (c Call, ok bool) {
	p = strings.TrimPrefix(p, "/")
	version, rest, found := strings.Cut(p, "/")
	if !found || (version != "v1beta" && version != "v1" && version != "v1alpha") {
		return Call{}, false
	}
	c.Version = version
	var name string
	switch {
	case rest == "models":
		return c, true
	case strings.HasPrefix(rest, "models/"):
		name = rest[len("models/"):]
	case strings.HasPrefix(rest, "tunedModels/"):
		name = rest[len("tunedModels/"):]
		c.Tuned = true
	default:
		return Call{}, false
	}
	model, method, hasMethod := strings.Cut(name, ":")
	if !ValidModel(model) {
		return Call{}, false
	}
	c.Model = model
	if hasMethod {
		if _, known := methods[method]; !known {
			return Call{}, false
		}
		c.Method = method
	}
	return c, true
}

// ValidModel reports whether name can be a Gemini model id: letters,
// digits, '-', '.', '_' and '@', at most 128 bytes. Model names end up in
// the upstream URL path, so anything else is refused rather than escaped.
func ValidModel(name string) bool {
	if name == "" || len(name) > 128 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.', c == '_', c == '@':
		default:
			return false
		}
	}
	return name != "." && name != ".."
}
