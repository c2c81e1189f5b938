package engine

import (
	"strconv"
	"unsafe"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/engine/gemini"
)

// Vertex AI in express mode serves Google's models under
// /v1/publishers/google/models/{model}:{method} on aiplatform.googleapis.com,
// with the API key in x-goog-api-key as the genai SDKs send it. Its request
// and answer bodies are those of the Gemini API for the methods below, so
// a Vertex pool differs from a Gemini pool only in the path it is called on
// and in which calls it can take at all.

// vertexVersion is the API version of every Vertex call: express mode
// serves v1 and v1beta1 alike, and v1 is the stable one.
const vertexVersion = "v1"

// vertexMethods are the methods Vertex AI Express serves on publisher
// models. Embeddings use another body on Vertex (instances, or
// embedContent with its own shape), so they are refused rather than sent
// in a shape Vertex would reject.
var vertexMethods = map[string]bool{
	"generateContent":       true,
	"streamGenerateContent": true,
	"countTokens":           true,
	"predict":               true, // Imagen
}

// emptyModelsPage is a models list with no models: the OpenAI models
// list of a Vertex pool holds only the config's own models.
var emptyModelsPage = []byte(`{}`)

// vertexPath builds the Vertex AI Express path of a model call.
func vertexPath(dst []byte, p *poolRuntime, c gemini.Call, model string) []byte {
	dst = append(dst, p.target.PathPrefix...)
	dst = append(dst, "/"+vertexVersion+"/publishers/google/models/"...)
	dst = append(dst, model...)
	if c.Method != "" {
		dst = append(dst, ':')
		dst = append(dst, c.Method...)
	}
	return dst
}

// serves reports whether the pool's upstream can take the model call c.
func (p *poolRuntime) serves(c gemini.Call) bool {
	if !p.vertex {
		return true
	}
	return c.Model != "" && !c.Tuned && vertexMethods[c.Method]
}

// refuse is the Failure for a call the request's pool cannot take: on a
// Vertex pool, what Vertex AI Express does not have. It is decided before
// any upstream call.
func (p *poolRuntime) refuse(ex *exchange) *Failure {
	if p.serves(ex.upCall) {
		return nil
	}
	c, name := ex.upCall, "Pool "+p.cfg.Name+" is on Vertex AI Express (upstream "+p.upstream.Name+"), which "
	var why string
	switch {
	case ex.call.subPath != "":
		why = "has no counterpart of Google's OpenAI-compatible endpoint; use balance's own OpenAI routes under /v1/"
	case c.Model == "" || c.Method == "":
		why = "lists no models; route models calls to a Gemini pool"
	case c.Tuned:
		why = "serves no tunedModels"
	default:
		why = "does not serve " + c.Method + " in the Gemini API's shape; route this model to a Gemini pool (model rule pool)"
	}
	return &Failure{Status: fasthttp.StatusBadRequest, Reason: "unsupported_on_vertex", Message: name + why + "."}
}

// vertexProbeBody is the smallest countTokens request.
const vertexProbeBody = `{"contents":[{"role":"user","parts":[{"text":"ping"}]}]}`

// setVertexProbe makes req the key probe of a Vertex pool: countTokens on
// the probe model. Express mode has no models.get; countTokens is free of
// charge and, like models.get on Gemini, answers 400 API_KEY_INVALID or
// 403 for a dead key and 200 (or 429) for a live one.
func setVertexProbe(req *fasthttp.Request, scheme string, p *poolRuntime) {
	path := vertexPath(nil, p, gemini.Call{Model: p.cfg.Probe.Model, Method: "countTokens"}, p.cfg.Probe.Model)
	req.SetRequestURI(scheme + p.target.Host + string(path))
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	req.SetBodyString(vertexProbeBody)
}

// fitVertexBody gives a native call bound for a Vertex pool the roles
// Vertex requires: every content must say "user" or "model", where the
// Gemini API takes a missing role as the user's. Translated OpenAI calls
// always carry roles. It runs when the request's path is built for its
// pool, and again when it moves to a fallback pool.
func (ex *exchange) fitVertexBody(req *fasthttp.Request) {
	if !ex.pool.vertex || ex.call.native.Method == "" {
		return
	}
	switch ex.upCall.Method {
	case "generateContent", "streamGenerateContent", "countTokens":
		if b, changed := withUserRoles(req.Body()); changed {
			req.SetBodyRaw(b)
		}
	}
}

// withUserRoles returns body with role "user" on each content that has
// none, and whether it changed anything (a new slice then).
func withUserRoles(body []byte) ([]byte, bool) {
	var missing []int
	i := 0
	// gjson.GetBytes would copy the contents: read them in place, as
	// nothing read outlives this loop.
	contents := gjson.Get(unsafe.String(unsafe.SliceData(body), len(body)), "contents")
	if !contents.IsArray() {
		return body, false
	}
	contents.ForEach(func(_, c gjson.Result) bool {
		if c.IsObject() && c.Get("role").String() == "" {
			missing = append(missing, i)
		}
		i++
		return true
	})
	changed := false
	for _, n := range missing {
		if b, err := sjson.SetBytes(body, "contents."+strconv.Itoa(n)+".role", "user"); err == nil {
			body, changed = b, true
		}
	}
	return body, changed
}
