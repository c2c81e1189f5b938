package engine

import (
	"bytes"
	"encoding/json"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/engine/openai"
)

// modelsAdapter is the front door of GET /v1/models (the upstream list,
// cached briefly, plus the config's virtual models, minus hidden ones)
// and GET /v1/models/{id}, which is answered without an upstream call
// (a 404 for a hidden model).
type modelsAdapter struct{}

func (modelsAdapter) protocol() Protocol { return ProtoOpenAI }

func (modelsAdapter) route(ctx *fasthttp.RequestCtx, c *call) *Failure {
	p := ctx.Path()
	if bytes.HasPrefix(p, prefixHF) {
		p = p[len("/hf"):]
	}
	c.route = "models"
	if id, ok := bytes.CutPrefix(p, []byte("/v1/models/")); ok {
		c.modelID = string(id)
		c.model = c.modelID
	}
	return allowOnly(ctx, fasthttp.MethodGet)
}

func (modelsAdapter) parse([]byte, *call) *Failure { return nil }

func (modelsAdapter) translate(ctx *fasthttp.RequestCtx, rt *Runtime, ex *exchange) (*fasthttp.Request, *Failure) {
	if id := ex.call.modelID; id != "" {
		if ex.model.Hidden {
			return nil, hiddenModel(id)
		}
		ctx.SetContentType("application/json")
		ctx.SetBody(openai.TranslateModel(id))
		return nil, nil
	}
	if ex.pool.vertex {
		// Vertex AI Express lists no models: the config's own list it is.
		return nil, modelsAnswer(rt, emptyModelsPage, &ctx.Response)
	}
	if page, ok := rt.modelLists.get(ex.pool.cfg.Name); ok {
		return nil, modelsAnswer(rt, page, &ctx.Response)
	}
	req := fasthttp.AcquireRequest()
	req.Header.SetMethod(fasthttp.MethodGet)
	req.URI().SetPath(ex.pool.target.PathPrefix + "/v1beta/models")
	req.URI().SetQueryString("pageSize=1000")
	return req, nil
}

func (modelsAdapter) reply(rt *Runtime, ex *exchange, up, resp *fasthttp.Response) *Failure {
	page := append([]byte(nil), up.Body()...)
	rt.modelLists.put(ex.pool.cfg.Name, page)
	return modelsAnswer(rt, page, resp)
}

func (modelsAdapter) sink(*Runtime, *exchange) eventSink { return nil }

// modelsAnswer writes the OpenAI models list for an upstream models page.
func modelsAnswer(rt *Runtime, body []byte, resp *fasthttp.Response) *Failure {
	var page modelsPage
	if err := json.Unmarshal(body, &page); err != nil {
		return &Failure{Status: fasthttp.StatusBadGateway, Message: "Could not translate the models list: " + err.Error()}
	}
	listed := rt.models.modelList(&page, true)
	ids := make([]string, len(listed))
	for i, m := range listed {
		ids[i] = m.id
	}
	resp.Header.SetContentType("application/json")
	resp.SetBody(openai.ModelList(ids))
	return nil
}

// modelListCache keeps each pool's upstream models list for a minute. It
// lives in the Runtime, so a reload starts it afresh.
type modelListCache struct {
	mu      sync.Mutex
	entries map[string]modelListEntry
}

type modelListEntry struct {
	at   time.Time
	body []byte
}

func (c *modelListCache) get(pool string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[pool]
	if !ok || time.Since(e.at) > time.Minute {
		return nil, false
	}
	return e.body, true
}

func (c *modelListCache) put(pool string, body []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]modelListEntry{}
	}
	c.entries[pool] = modelListEntry{at: time.Now(), body: body}
}
