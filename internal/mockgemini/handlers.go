package mockgemini

import (
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"
)

const (
	defaultPageSize = 50
	maxPageSize     = 1000
	defaultEmbedDim = 768 // real gemini-embedding-001 defaults to 3072; 768 keeps the mock cheap
	maxEmbedDim     = 3072
)

func (s *Server) serveModelsList(ctx *fasthttp.RequestCtx) {
	args := ctx.QueryArgs()
	size := defaultPageSize
	if v := args.Peek("pageSize"); len(v) > 0 {
		n, err := strconv.Atoi(string(v))
		if err != nil {
			s.writeError(ctx, errBadRequest("Invalid value at 'page_size' (TYPE_INT32), \""+string(v)+"\""), false)
			return
		}
		if n > 0 {
			size = min(n, maxPageSize)
		}
	}
	offset := 0
	if v := args.Peek("pageToken"); len(v) > 0 {
		var ok bool
		if offset, ok = decodePageToken(string(v)); !ok {
			s.writeError(ctx, errBadRequest("Invalid page token."), false)
			return
		}
	}
	if offset == 0 && size == defaultPageSize {
		setCommonHeaders(ctx, ctJSON)
		ctx.SetBody(s.defaultList)
		return
	}
	bp := getBuf()
	*bp = appendModelsPage((*bp)[:0], offset, size)
	writeCompact(ctx, *bp)
	putBuf(bp)
}

func (s *Server) serveModelGet(ctx *fasthttp.RequestCtx, r *request) {
	if !ctx.IsGet() {
		s.writeError(ctx, errNotFound("Method not found."), false)
		return
	}
	m := lookupModel(r.model)
	if m == nil {
		s.writeError(ctx, errNotFound("models/"+string(r.model)+" is not found for API version "+r.version+
			", or is not supported for get. Call ListModels to see the list of available models and their supported methods."), false)
		return
	}
	bp := getBuf()
	*bp = appendModel((*bp)[:0], m)
	writeCompact(ctx, *bp)
	putBuf(bp)
}

// serveMethod dispatches a custom method (`models/{m}:{method}`).
func (s *Server) serveMethod(ctx *fasthttp.RequestCtx, r *request, fault Fault) {
	method := string(r.method) // the compiler does not allocate for a switch on string(b)
	m := lookupModel(r.model)
	var want modelKind
	switch method {
	case "generateContent", "streamGenerateContent":
		want = kindGenerate
	case "countTokens":
		if m != nil && (m.kind == kindPredict || m.kind == kindVideo) {
			m = nil
		}
		want = 255
	case "embedContent", "batchEmbedContents":
		want = kindEmbed
	case "predict":
		want = kindPredict
	case "predictLongRunning":
		if r.vertex { // Vertex polls with :fetchPredictOperation, which the mock lacks
			s.writeError(ctx, errNotFound("Method not found."), false)
			return
		}
		want = kindVideo
	default:
		s.writeError(ctx, errNotFound("Method not found."), false)
		return
	}
	if m == nil || (want != 255 && m.kind != want) {
		s.writeError(ctx, errModelNotFound(string(r.model), r.version, method), false)
		return
	}
	body := ctx.PostBody()
	if r.vertex && want != kindPredict && want != kindEmbed && !vertexRolesValid(body) {
		s.writeError(ctx, errBadRequest(msgVertexRole), false)
		return
	}
	switch method {
	case "generateContent":
		s.serveGenerate(ctx, m, body)
	case "streamGenerateContent":
		f := frameArray
		if string(ctx.QueryArgs().Peek("alt")) == "sse" {
			f = frameSSE
		}
		s.serveStreamGenerate(ctx, m, body, f, fault)
	case "countTokens":
		s.serveCountTokens(ctx, body)
	case "embedContent":
		s.serveEmbed(ctx, m, body, false)
	case "batchEmbedContents":
		s.serveEmbed(ctx, m, body, true)
	case "predict":
		s.servePredict(ctx, body)
	case "predictLongRunning":
		s.serveVideo(ctx, m, r.key, body)
	}
}

func (s *Server) serveGenerate(ctx *fasthttp.RequestCtx, m *modelInfo, body []byte) {
	if m.tts || asksForAudio(body) {
		s.serveSpeech(ctx, m, body, false, 0, Fault{})
		return
	}
	var p genPlan
	if e := planGenerate(body, m, &p, s.opts.TextOnly); e != nil {
		s.writeError(ctx, *e, false)
		return
	}
	bp := getBuf()
	*bp = p.appendUnary((*bp)[:0])
	writeCompact(ctx, *bp)
	putBuf(bp)
}

func (s *Server) serveStreamGenerate(ctx *fasthttp.RequestCtx, m *modelInfo, body []byte, f framing, fault Fault) {
	if m.tts || asksForAudio(body) {
		s.serveSpeech(ctx, m, body, true, f, fault)
		return
	}
	var p genPlan
	if e := planGenerate(body, m, &p, s.opts.TextOnly); e != nil {
		s.writeError(ctx, *e, false)
		return
	}
	es := newEventStream(f)
	p.streamChunks(s.opts.StreamChunks, es.add)
	s.serveStream(ctx, es, fault)
}

// parseObject validates body as a JSON object and returns a view of it.
func parseObject(body []byte) (gjson.Result, *apiError) {
	if !gjson.ValidBytes(body) {
		e := errBadRequest(msgBadJSON)
		return gjson.Result{}, &e
	}
	root := gjson.Parse(unsafeString(body))
	if !root.IsObject() {
		e := errBadRequest(msgBadJSON)
		return gjson.Result{}, &e
	}
	return root, nil
}

// parseInstances reads the body that Imagen :predict and Veo
// :predictLongRunning share: a non-empty instances[] (its error names the
// request type, as upstream's does) and parameters.sampleCount, a whole
// number in 1–4 that defaults to defaultSamples.
func parseInstances(body []byte, request string, defaultSamples int, badSamples string) (gjson.Result, int, *apiError) {
	root, e := parseObject(body)
	if e != nil {
		return gjson.Result{}, 0, e
	}
	inst := root.Get("instances")
	if !inst.IsArray() || len(inst.Array()) == 0 {
		e := errBadRequest("* " + request + ".instances: instances is not specified\n")
		return gjson.Result{}, 0, &e
	}
	samples := defaultSamples
	if sc := root.Get("parameters.sampleCount"); sc.Exists() {
		samples = int(sc.Int())
		if samples < 1 || samples > 4 || float64(samples) != sc.Num {
			e := errBadRequest(badSamples)
			return gjson.Result{}, 0, &e
		}
	}
	return inst, samples, nil
}

// serveCountTokens accepts {"contents":[...]} or
// {"generateContentRequest":{...}} (mutually exclusive).
func (s *Server) serveCountTokens(ctx *fasthttp.RequestCtx, body []byte) {
	root, e := parseObject(body)
	if e != nil {
		s.writeError(ctx, *e, false)
		return
	}
	contents, gcr := root.Get("contents"), root.Get("generateContentRequest")
	var target gjson.Result
	switch {
	case contents.Exists() && gcr.Exists():
		s.writeError(ctx, errBadRequest("contents and generate_content_request cannot both be set."), false)
		return
	case gcr.Exists():
		if !gcr.IsObject() {
			s.writeError(ctx, errBadRequest(msgBadJSON), false)
			return
		}
		target = gcr
	case contents.Exists():
		target = gjson.Parse(`{"contents":` + contents.Raw + `}`)
	default:
		s.writeError(ctx, errBadRequest("* CountTokensRequest: either contents or generate_content_request must be set.\n"), false)
		return
	}
	var sc scanned
	if e := scanRequest(target, &sc); e != nil {
		s.writeError(ctx, *e, false)
		return
	}
	bp := getBuf()
	b := append((*bp)[:0], `{"totalTokens":`...)
	b = appendInt(b, sc.promptTokens)
	b = append(b, `,"promptTokensDetails":[{"modality":"TEXT","tokenCount":`...)
	b = appendInt(b, sc.promptTokens)
	b = append(b, "}]}"...)
	*bp = b
	writeCompact(ctx, b)
	putBuf(bp)
}

// embedText joins the text parts of a Content.
func embedText(content gjson.Result) string {
	var sb strings.Builder
	content.Get("parts").ForEach(func(_, p gjson.Result) bool {
		sb.WriteString(p.Get("text").String())
		return true
	})
	return sb.String()
}

// appendVector appends a deterministic embedding of text: dims values in
// (-0.1, 0.1) drawn from a generator seeded with the text's hash, so equal
// texts embed equally and different texts differ.
func appendVector(dst []byte, text string, dims int) []byte {
	dst = append(dst, `{"values":`...)
	return append(appendFloats(dst, text, dims), '}')
}

// appendFloats appends the bare JSON array of appendVector.
func appendFloats(dst []byte, text string, dims int) []byte {
	h := fnv.New64a()
	_, _ = h.Write([]byte(text))
	seed := h.Sum64()
	dst = append(dst, '[')
	for i := 0; i < dims; i++ {
		if i > 0 {
			dst = append(dst, ',')
		}
		v := float32((float64(splitmix(&seed)>>11)/(1<<53))*0.2 - 0.1)
		dst = strconv.AppendFloat(dst, float64(v), 'g', -1, 32)
	}
	return append(dst, ']')
}

func embedDims(req gjson.Result) (int, *apiError) {
	d := req.Get("outputDimensionality")
	if !d.Exists() {
		return defaultEmbedDim, nil
	}
	n := d.Int()
	if n < 1 || n > maxEmbedDim || float64(n) != d.Num {
		e := errBadRequest("outputDimensionality must be between 1 and " + strconv.Itoa(maxEmbedDim) + ".")
		return 0, &e
	}
	return int(n), nil
}

func (s *Server) serveEmbed(ctx *fasthttp.RequestCtx, m *modelInfo, body []byte, batch bool) {
	root, e := parseObject(body)
	if e != nil {
		s.writeError(ctx, *e, false)
		return
	}
	bp := getBuf()
	defer putBuf(bp)
	b := (*bp)[:0]
	if !batch {
		content := root.Get("content")
		if !content.IsObject() {
			s.writeError(ctx, errBadRequest("* EmbedContentRequest.content: content is not specified\n"), false)
			return
		}
		dims, e := embedDims(root)
		if e != nil {
			s.writeError(ctx, *e, false)
			return
		}
		b = append(b, `{"embedding":`...)
		b = appendVector(b, embedText(content), dims)
		b = append(b, '}')
		*bp = b
		writeCompact(ctx, b)
		return
	}
	reqs := root.Get("requests")
	if !reqs.IsArray() || len(reqs.Array()) == 0 {
		s.writeError(ctx, errBadRequest("* BatchEmbedContentsRequest.requests: requests is not specified\n"), false)
		return
	}
	want := "models/" + m.id
	b = append(b, `{"embeddings":[`...)
	var failed *apiError
	i := 0
	reqs.ForEach(func(_, r gjson.Result) bool {
		if got := r.Get("model").Str; got != want {
			e := errBadRequest("* BatchEmbedContentsRequest.requests[" + strconv.Itoa(i) + "].model: model `" + got +
				"` must be the same as the batch request's model `" + want + "`.\n")
			failed = &e
			return false
		}
		dims, e := embedDims(r)
		if e != nil {
			failed = e
			return false
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = appendVector(b, embedText(r.Get("content")), dims)
		i++
		return true
	})
	if failed != nil {
		s.writeError(ctx, *failed, false)
		return
	}
	b = append(b, "]}"...)
	*bp = b
	writeCompact(ctx, b)
}

// servePredict answers Imagen :predict with sampleCount (default 4, as
// upstream) tiny PNGs per instance.
func (s *Server) servePredict(ctx *fasthttp.RequestCtx, body []byte) {
	inst, count, e := parseInstances(body, "PredictRequest", 4, "Number of images must be in the range [1, 4].")
	if e != nil {
		s.writeError(ctx, *e, false)
		return
	}
	var bad bool
	inst.ForEach(func(_, in gjson.Result) bool {
		bad = strings.TrimSpace(in.Get("prompt").String()) == ""
		return !bad
	})
	if bad {
		s.writeError(ctx, errBadRequest("Prompt is required."), false)
		return
	}
	n := len(inst.Array()) * count
	b := make([]byte, 0, 32+n*(len(tinyPNGBase64)+64))
	b = append(b, `{"predictions":[`...)
	for i := 0; i < n; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"bytesBase64Encoded":"`...)
		b = append(b, tinyPNGBase64...)
		b = append(b, `","mimeType":"image/png"}`...)
	}
	b = append(b, "]}"...)
	writeCompact(ctx, b)
}
