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

// Methods the proxy forwards, and whether each sends a streamed answer.
var methods = map[string]bool{
	"generateContent":       false,
	"streamGenerateContent": true,
	"countTokens":           false,
	"embedContent":          false,
	"batchEmbedContents":    false,
	"predict":               false,
	"predictLongRunning":    false,
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
	if model == "" || strings.Contains(model, "/") {
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
