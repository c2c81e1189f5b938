package engine

import (
	"encoding/json"

	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"
)

// compatAdapter is the front door of /openai/v1/…: calls go to Google's
// own OpenAI-compatible endpoint ({base}/v1beta/openai/…) with a pool key,
// and its answers pass through (its array-shaped errors are unwrapped into
// the object shape OpenAI SDKs read when failures are rendered).
type compatAdapter struct{}

func (compatAdapter) protocol() Protocol { return ProtoOpenAI }

func (compatAdapter) route(ctx *fasthttp.RequestCtx, c *call) *Failure {
	rest := string(ctx.Path()[len(prefixCompat)-1:])
	if !ctx.IsGet() && !ctx.IsPost() {
		return &Failure{Status: fasthttp.StatusMethodNotAllowed, Allow: "GET, POST", Message: "Method " + string(ctx.Method()) + " is not allowed on " + string(ctx.Path()) + "."}
	}
	*c = call{route: "openai" + rest, subPath: rest, body: ctx.IsPost(), passAnswer: true}
	return nil
}

// parse reads the model and the stream flag from the body.
func (compatAdapter) parse(body []byte, c *call) *Failure {
	return parseModelAndStream(body, c)
}

func (compatAdapter) translate(ctx *fasthttp.RequestCtx, _ *Runtime, ex *exchange) (*fasthttp.Request, *Failure) {
	req := newUpstreamRequest(&ctx.Request)
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

// openAIUsage reads usage from an OpenAI-shaped answer.
func openAIUsage(b []byte) Usage {
	u := gjson.GetManyBytes(b, "usage.prompt_tokens", "usage.completion_tokens", "usage.total_tokens")
	return Usage{PromptTokenCount: int(u[0].Int()), CandidatesTokenCount: int(u[1].Int()), TotalTokenCount: int(u[2].Int())}
}
