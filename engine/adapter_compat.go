package engine

import (
	"encoding/json"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"
)

// compatAdapter is the front door of /openai/v1/…: calls go to Google's
// own OpenAI-compatible endpoint ({base}/v1beta/openai/…) with a pool key,
// and its answers pass through (its array-shaped errors are unwrapped into
// the object shape OpenAI SDKs read when failures are rendered).
type compatAdapter struct{}

func (compatAdapter) protocol() Protocol { return ProtoOpenAI }

// compatRoutes are the calls of Google's OpenAI-compatible endpoint that
// the passthrough forwards, by sub-path, with the method each takes. Any
// other path is refused here: the upstream path is built from this table,
// never from what the client's path decodes to.
var compatRoutes = map[string]string{
	"/chat/completions":   fasthttp.MethodPost,
	"/embeddings":         fasthttp.MethodPost,
	"/images/generations": fasthttp.MethodPost,
	"/models":             fasthttp.MethodGet,
}

func (compatAdapter) route(ctx *fasthttp.RequestCtx, c *call) *Failure {
	rest := string(ctx.Path()[len(prefixCompat)-1:])
	*c = call{route: "openai" + rest, subPath: rest, passAnswer: true}
	if id, ok := strings.CutPrefix(rest, "/models/"); ok && id != "" {
		// GET /models/{id}: the id is a model name, checked by the
		// same rules as any other model the token asks for.
		c.model = strings.TrimPrefix(id, "models/")
		c.route = "openai/models.get"
		return allowOnly(ctx, fasthttp.MethodGet)
	}
	want, ok := compatRoutes[rest]
	if !ok {
		return fail(fasthttp.StatusNotFound, "Unknown route "+string(ctx.Path())+" on Google's OpenAI-compatible endpoint. Supported: chat/completions, embeddings, images/generations, models.")
	}
	c.body = want == fasthttp.MethodPost
	c.refs = rest == "/chat/completions"
	return allowOnly(ctx, want)
}

// parse reads the model and the stream flag from the body. The endpoint
// takes "models/NAME" as well as "NAME" (its models list answers the
// former): admission looks at the name.
func (compatAdapter) parse(body []byte, c *call) *Failure {
	f := parseModelAndStream(body, c)
	c.model = strings.TrimPrefix(c.model, "models/")
	return f
}

func (compatAdapter) translate(ctx *fasthttp.RequestCtx, _ *Runtime, ex *exchange) (*fasthttp.Request, *Failure) {
	req := newUpstreamRequest(&ctx.Request, ex.clientBody(ctx))
	if ex.call.model != "" && ex.model.Target != ex.call.model {
		// A model rule renamed the model: send the target upstream.
		var body map[string]json.RawMessage
		if json.Unmarshal(req.Body(), &body) == nil {
			body["model"], _ = json.Marshal(ex.model.Target)
			if b, err := json.Marshal(body); err == nil {
				req.SetBodyRaw(b)
			}
		}
	}
	// subPath is one of compatRoutes or /models/{valid model name}: it
	// holds nothing that needs escaping.
	req.URI().SetPath(ex.pool.target.PathPrefix + "/v1beta/openai" + ex.call.subPath)
	copyQuery(req, &ctx.Request)
	return req, nil
}

func (compatAdapter) reply(_ *Runtime, ex *exchange, up, _ *fasthttp.Response) *Failure {
	ex.usage = openAIUsage(up.Body())
	return nil
}

// sink is nil: the endpoint's stream is already OpenAI-shaped.
func (compatAdapter) sink(*Runtime, *exchange) eventSink { return nil }

// completeMarkers: Google's OpenAI endpoint ends a whole stream with [DONE].
func (compatAdapter) completeMarkers() [][]byte { return openAIEndMarkers }

var openAIEndMarkers = [][]byte{[]byte("[DONE]")}

// openAIUsage reads usage from an OpenAI-shaped answer.
func openAIUsage(b []byte) Usage {
	u := gjson.GetManyBytes(b, "usage.prompt_tokens", "usage.completion_tokens", "usage.total_tokens")
	return Usage{PromptTokenCount: int(u[0].Int()), CandidatesTokenCount: int(u[1].Int()), TotalTokenCount: int(u[2].Int())}
}
