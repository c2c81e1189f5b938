package engine

import (
	"bytes"
	"errors"
	"io"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/engine/gemini"
	"github.com/balanceproxy/balance/store"
)

// filesAdapter is the front door of Gemini's stateful resources: the Files
// API (uploads, get, list, delete, download), cached contents, batches and
// long-running operations (Veo videos), under /gemini/ and the bare
// prefix. Each resource belongs to the key that created it, so everything
// after its creation is pinned to that key and to the client token that
// created it (resources.go). Upload chunks stream through to Google: they
// are never read into memory.
type filesAdapter struct{ s *Server }

// resourceOp is what a resource call does.
type resourceOp uint8

const (
	opList resourceOp = iota
	opGet
	opDelete
	opDownload
	opPatch
	opCancel
	opCreateCache
	opCreateBatch
	opCreateOperation
	opUploadStart
	opUploadMultipart
	opUploadChunk
)

// resourceCall is what route read from a resource call's path.
type resourceCall struct {
	op   resourceOp
	kind string // store.KindFile, KindCache, KindBatch or KindOperation
	// name is the resource ("files/ID"), or "uploads/<upload id>" for a chunk.
	name string
	// path is the upstream path after the upstream's own prefix; a
	// create on a model builds its own from call.native (setUpstreamPath).
	path string
	// mount is "/gemini" when the call came in under it, so the upload
	// URL handed back keeps the client on the same prefix.
	mount string
	// origin is scheme://host as the client reached balance.
	origin string
	// command is an upload's X-Goog-Upload-Command; declared and mime
	// are what a resumable start says of the file (-1: size unknown).
	command  string
	declared int64
	mime     string
	// model is the model an upload's file is for, when its start said
	// (uploadModelHeader); chunks read it from the upload's record.
	model string
}

var (
	pathUpload       = []byte("/upload/")
	pathDownload     = []byte("/download/")
	suffixBatchGen   = ":batchGenerateContent"
	suffixVideoGen   = ":predictLongRunning"
	infixOperations  = "/operations/"
	uploadStatusHdr  = "X-Goog-Upload-Status"
	uploadURLHeaders = []string{"X-Goog-Upload-URL", "X-Goog-Upload-Control-URL"}
)

// isResourcePath reports whether the filesAdapter serves path: a few byte
// compares, since every native call passes here first.
func isResourcePath(p []byte) bool {
	if bytes.HasPrefix(p, prefixGemini) {
		p = p[len(prefixGemini)-1:]
	}
	if bytes.HasPrefix(p, pathUpload) || bytes.HasPrefix(p, pathDownload) {
		return true
	}
	// Bytes throughout: a string of the path would cost an allocation on
	// every native call.
	_, rest, ok := cutVersion(p)
	if !ok {
		return false
	}
	has := func(prefix string) bool { return len(rest) >= len(prefix) && string(rest[:len(prefix)]) == prefix }
	return string(rest) == "files" || has("files/") || string(rest) == "cachedContents" || has("cachedContents/") ||
		string(rest) == "batches" || has("batches/") || has("models/") && isModelResource(rest)
}

// isModelResource reports whether rest ("models/…") creates a resource
// (a batch, a video's operation) or names an operation.
func isModelResource(rest []byte) bool {
	return bytes.HasSuffix(rest, []byte(suffixBatchGen)) || bytes.HasSuffix(rest, []byte(suffixVideoGen)) ||
		bytes.Contains(rest, []byte(infixOperations))
}

// cutVersion splits "/v1beta/rest" into its API version and rest.
func cutVersion[S ~string | ~[]byte](p S) (version, rest S, ok bool) {
	if len(p) > 0 && p[0] == '/' {
		p = p[1:]
	}
	for i := 0; i < len(p); i++ {
		if p[i] != '/' {
			continue
		}
		switch string(p[:i]) {
		case "v1beta", "v1", "v1alpha":
			return p[:i], p[i+1:], true
		}
		break
	}
	return version, rest, false
}

func (filesAdapter) protocol() Protocol { return ProtoGemini }

func (filesAdapter) route(ctx *fasthttp.RequestCtx, c *call) *Failure {
	p := string(ctx.Path())
	rc := resourceCall{}
	if strings.HasPrefix(p, "/gemini/") {
		rc.mount, p = "/gemini", p[len("/gemini"):]
	}
	scheme := "http"
	if ctx.IsTLS() || string(ctx.Request.Header.Peek("X-Forwarded-Proto")) == "https" {
		scheme = "https"
	}
	rc.origin = scheme + "://" + string(ctx.Host())
	*c = call{passAnswer: true}
	notFound := fail(fasthttp.StatusNotFound, "Unknown Gemini API method "+string(ctx.Path())+".")
	if after, ok := strings.CutPrefix(p, "/upload/"); ok {
		if after != "v1beta/files" {
			return notFound
		}
		return routeUpload(ctx, c, rc)
	}
	// Google serves a file's bytes under /download as well (the form its
	// docs give for batch results and videos); the call is passed on in
	// the form it came.
	download := ""
	if after, ok := strings.CutPrefix(p, "/download/"); ok {
		download, p = "/download", "/"+after
	}
	version, rest, _ := cutVersion(p)
	collection, item, hasItem := strings.Cut(rest, "/")
	id, method, _ := strings.Cut(item, ":")
	if download != "" && (collection != "files" || method != "download") {
		return notFound
	}
	switch collection {
	case "files":
		rc.kind = store.KindFile
	case "cachedContents":
		rc.kind = store.KindCache
	case "batches":
		rc.kind = store.KindBatch
	case "models":
		return routeModelResource(ctx, c, rc, version, item)
	default:
		return notFound
	}
	routes := map[string]string{store.KindFile: "files", store.KindCache: "cachedContents", store.KindBatch: "batches"}
	c.route = routes[rc.kind]
	if !hasItem {
		if rc.kind == store.KindCache && ctx.IsPost() {
			rc.op, rc.path = opCreateCache, "/"+version+"/cachedContents"
			*c = call{route: "cachedContents.create", body: true, refs: true, passAnswer: true, resource: rc}
			return nil
		}
		rc.op = opList
		c.route += ".list"
		c.resource = rc
		return allowOnly(ctx, fasthttp.MethodGet)
	}
	if !validResourceID(id) {
		return fail(fasthttp.StatusBadRequest, "Invalid resource name "+collection+"/"+item+".")
	}
	rc.name = collection + "/" + id
	rc.path = "/" + version + "/" + rc.name
	want := fasthttp.MethodGet
	switch {
	case method == "" && ctx.IsGet():
		rc.op, c.route = opGet, c.route+".get"
	case method == "" && ctx.IsDelete():
		rc.op, c.route, want = opDelete, c.route+".delete", fasthttp.MethodDelete
	case method == "" && string(ctx.Method()) == fasthttp.MethodPatch && rc.kind == store.KindCache:
		rc.op, c.route, want, c.body = opPatch, c.route+".patch", fasthttp.MethodPatch, true
	case method == "download" && rc.kind == store.KindFile:
		// The bytes stream through (relay, with no sink): a file can be
		// gigabytes.
		rc.op, c.route, c.stream = opDownload, "files.download", true
		rc.path = download + rc.path + ":download"
	case method == "cancel" && rc.kind == store.KindBatch:
		rc.op, c.route, want = opCancel, "batches.cancel", fasthttp.MethodPost
		rc.path += ":cancel"
	case method != "":
		return notFound
	default:
		return allowOnly(ctx, "GET, DELETE")
	}
	c.resource = rc
	return allowOnly(ctx, want)
}

// routeModelResource routes the calls under models/ that create a
// resource, models/{m}:batchGenerateContent and models/{m}:predictLongRunning
// (a video's operation), and an operation's poll, models/{m}/operations/{id}.
// A create is a model call like any other (model rules, admission, the
// pool's upstream, fallback pools); a poll is pinned to the owner.
func routeModelResource(ctx *fasthttp.RequestCtx, c *call, rc resourceCall, version, item string) *Failure {
	if model, id, ok := strings.Cut(item, infixOperations); ok {
		if !gemini.ValidModel(model) || !validResourceID(id) {
			return fail(fasthttp.StatusBadRequest, "Invalid operation name models/"+item+".")
		}
		rc.kind, rc.op, rc.name = store.KindOperation, opGet, "models/"+item
		rc.path = "/" + version + "/" + rc.name
		*c = call{route: "operations.get", passAnswer: true, resource: rc}
		return allowOnly(ctx, fasthttp.MethodGet)
	}
	model, method, _ := strings.Cut(item, ":")
	route, refs := method, false
	switch method {
	case suffixBatchGen[1:]:
		// A batch's inline requests may name files or a cached content.
		rc.kind, rc.op, route, refs = store.KindBatch, opCreateBatch, "batches.create", true
	case suffixVideoGen[1:]:
		rc.kind, rc.op = store.KindOperation, opCreateOperation
	default:
		return fail(fasthttp.StatusNotFound, "Unknown Gemini API method "+string(ctx.Path())+".")
	}
	*c = call{route: route, model: model, native: gemini.Call{Version: version, Model: model, Method: method},
		body: true, refs: refs, passAnswer: true, resource: rc}
	return allowOnly(ctx, fasthttp.MethodPost)
}

// routeUpload reads the upload protocol from the headers: a resumable
// start (a small JSON body), a chunk on an upload URL (streamed), or a
// multipart upload (streamed).
func routeUpload(ctx *fasthttp.RequestCtx, c *call, rc resourceCall) *Failure {
	rc.kind, rc.path = store.KindFile, "/upload/v1beta/files"
	rc.command = strings.ToLower(string(ctx.Request.Header.Peek("X-Goog-Upload-Command")))
	rc.mime = string(ctx.Request.Header.Peek("X-Goog-Upload-Header-Content-Type"))
	rc.declared = -1
	if id := ctx.QueryArgs().Peek("upload_id"); id != nil {
		if !validResourceID(string(id)) {
			return fail(fasthttp.StatusBadRequest, "Invalid upload_id.")
		}
		rc.op, rc.name = opUploadChunk, "uploads/"+string(id)
		*c = call{route: "files.upload.chunk", passAnswer: true, resource: rc}
		return allowOnly(ctx, fasthttp.MethodPost)
	}
	// The model the file is for, when the client says: the upload then
	// goes to the pool the model rules name for it and to a key that is
	// not cooling for it, so the file's first use is not a 429.
	model := strings.TrimPrefix(strings.TrimSpace(string(ctx.Request.Header.Peek(uploadModelHeader))), "models/")
	switch strings.ToLower(string(ctx.Request.Header.Peek("X-Goog-Upload-Protocol"))) {
	case "resumable":
		if !strings.EqualFold(strings.TrimSpace(string(ctx.Request.Header.Peek("X-Goog-Upload-Command"))), "start") {
			return fail(fasthttp.StatusBadRequest, "A resumable upload starts with X-Goog-Upload-Command: start; chunks go to the upload URL it returns.")
		}
		rc.op = opUploadStart
		*c = call{route: "files.upload", model: model, body: ctx.Request.Header.ContentLength() != 0, passAnswer: true, resource: rc}
	case "multipart":
		rc.op = opUploadMultipart
		*c = call{route: "files.upload", model: model, passAnswer: true, resource: rc}
	default:
		return fail(fasthttp.StatusBadRequest, "Unsupported upload: send X-Goog-Upload-Protocol: resumable (or multipart).")
	}
	return allowOnly(ctx, fasthttp.MethodPost)
}

// uploadModelHeader names the model an upload's file is for. Google's
// upload carries no model, and neither SDK sends one, but both let a
// caller add a header to a call (httpOptions.headers). It is not one of
// the headers forwarded to Google (forwardedHeader).
const uploadModelHeader = "X-Balance-Model"

// parse reads a cached content's model from its body, for admission.
func (filesAdapter) parse(body []byte, c *call) *Failure {
	if c.resource.op != opCreateCache {
		return nil
	}
	m := gjson.GetBytes(body, "model")
	if m.Type != gjson.String || !strings.HasPrefix(m.Str, "models/") {
		return fail(fasthttp.StatusBadRequest, "cachedContent.model must be \"models/{model}\".")
	}
	c.model = m.Str[len("models/"):]
	return nil
}

func (a filesAdapter) translate(ctx *fasthttp.RequestCtx, rt *Runtime, ex *exchange) (*fasthttp.Request, *Failure) {
	s := a.s
	rc := &ex.call.resource
	maxUpload := rt.Config.FilesAPI.MaxUpload
	body := ex.clientBody(ctx)
	var stream io.Reader
	switch rc.op {
	case opList:
		return nil, s.answerList(ctx, ex)
	case opGet, opDelete, opDownload, opPatch, opCancel:
		what := map[string]string{store.KindFile: "File", store.KindCache: "Cached content", store.KindBatch: "Batch", store.KindOperation: "Operation"}[rc.kind]
		r, f := s.ownedBy(ex, rc.name, what)
		if f != nil {
			return nil, f
		}
		if f := s.pinTo(ex, r); f != nil {
			return nil, f
		}
	case opCreateOperation:
		if f := s.pinExtendedVideos(ex, body); f != nil {
			return nil, f
		}
		t := ex.pool.target
		scheme := "http://"
		if t.TLS {
			scheme = "https://"
		}
		body = rewriteVideoURIs(body, "instances", scheme+t.Host+t.PathPrefix)
	case opUploadStart:
		rc.model = uploadModel(ex)
		n, err := declaredUploadSize(ctx)
		if err != nil {
			return nil, fail(fasthttp.StatusBadRequest, err.Error())
		}
		if n > maxUpload {
			return nil, tooLargeUpload(maxUpload)
		}
		rc.declared = n
	case opUploadMultipart:
		rc.model = uploadModel(ex)
		n := int64(ctx.Request.Header.ContentLength())
		if n > maxUpload {
			return nil, tooLargeUpload(maxUpload)
		}
		stream = ex.uploadBody(ctx, maxUpload, maxUpload)
	case opUploadChunk:
		r, f := s.ownedBy(ex, rc.name, "Upload")
		if f != nil {
			return nil, f
		}
		if f := s.pinTo(ex, r); f != nil {
			return nil, f
		}
		rc.model = r.Model
		left, f := chunkBudget(ctx, r, maxUpload)
		if f != nil {
			return nil, f
		}
		stream = ex.uploadBody(ctx, left, maxUpload)
	}
	req := newUpstreamRequest(&ctx.Request, body)
	if stream != nil {
		req.SetBodyStream(stream, ctx.Request.Header.ContentLength())
	}
	if ex.call.native.Model != "" {
		ex.setUpstreamPath(req, ex.call.native)
	} else {
		ex.scratch = append(append(ex.scratch[:0], ex.pool.target.PathPrefix...), rc.path...)
		req.URI().SetPathBytes(ex.scratch)
	}
	copyQuery(req, &ctx.Request)
	return req, nil
}

// pinExtendedVideos pins a video generation that extends videos
// (instances[].video.uri, a generated video's download URI) to the key
// that owns them. A URI that names a file in a form balance cannot read
// matches no record, so it is refused rather than sent to any key.
func (s *Server) pinExtendedVideos(ex *exchange, body []byte) *Failure {
	var names []string
	for _, u := range gjson.GetBytes(body, "instances.#.video.uri").Array() {
		if name, ok := downloadFileName(u.Str); ok {
			names = append(names, name)
		} else if strings.Contains(u.Str, "files/") {
			names = append(names, u.Str)
		}
	}
	return s.pinFiles(ex, names)
}

// uploadModel is the model (after model rules) an upload's file is for,
// "" when the client did not say.
func uploadModel(ex *exchange) string {
	if ex.call.model == "" {
		return ""
	}
	return ex.model.Target
}

// declaredUploadSize is a resumable start's X-Goog-Upload-Header-Content-Length,
// -1 when the client did not say.
func declaredUploadSize(ctx *fasthttp.RequestCtx) (int64, error) {
	v := ctx.Request.Header.Peek("X-Goog-Upload-Header-Content-Length")
	if len(v) == 0 {
		return -1, nil
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil || n < 0 {
		return 0, errors.New("X-Goog-Upload-Header-Content-Length must be a byte count")
	}
	return n, nil
}

func tooLargeUpload(limit int64) *Failure {
	return fail(fasthttp.StatusRequestEntityTooLarge, "The file exceeds files.max_upload ("+strconv.FormatInt(limit, 10)+" bytes).")
}

// chunkBudget checks a chunk's offset and length against the upload's
// declared size and files.max_upload, and returns how many bytes the
// chunk may carry.
func chunkBudget(ctx *fasthttp.RequestCtx, up store.Resource, maxUpload int64) (int64, *Failure) {
	cmd := strings.ToLower(string(ctx.Request.Header.Peek("X-Goog-Upload-Command")))
	if strings.Contains(cmd, "query") || strings.Contains(cmd, "cancel") {
		return 0, nil
	}
	off, err := strconv.ParseInt(string(ctx.Request.Header.Peek("X-Goog-Upload-Offset")), 10, 64)
	if err != nil || off < 0 {
		return 0, fail(fasthttp.StatusBadRequest, "An upload chunk needs X-Goog-Upload-Offset: the byte offset it starts at.")
	}
	limit := maxUpload
	if up.Size >= 0 && up.Size < limit {
		limit = up.Size // the size the start declared
	}
	n := int64(ctx.Request.Header.ContentLength())
	if off > limit || n > 0 && off+n > limit {
		if limit == maxUpload {
			return 0, tooLargeUpload(maxUpload)
		}
		return 0, fail(fasthttp.StatusBadRequest, "The chunk at offset "+strconv.FormatInt(off, 10)+" runs past the declared size of "+strconv.FormatInt(limit, 10)+" bytes.")
	}
	return limit - off, nil
}

// uploadBody passes an upload's body through to Google and stops it at
// its budget. It hides the server stream's Close: the client request
// releasing it must not release the server's.
type uploadBody struct {
	r    io.Reader
	left int64
	max  int64
	// sent counts the bytes passed on, for the request's stats; the
	// upstream call may read on another goroutine.
	sent atomic.Int64
}

// uploadBody streams the client's body to Google within left bytes, and
// counts it as the exchange's upload bytes.
func (ex *exchange) uploadBody(ctx *fasthttp.RequestCtx, left, limit int64) *uploadBody {
	ex.upload = &uploadBody{r: ctx.RequestBodyStream(), left: left, max: limit}
	return ex.upload
}

var errUploadTooLarge = errors.New("upload exceeds files.max_upload")

func (u *uploadBody) Read(p []byte) (int, error) {
	if u.left < 0 {
		return 0, errUploadTooLarge
	}
	if int64(len(p)) > u.left+1 {
		p = p[:u.left+1]
	}
	n, err := u.r.Read(p)
	u.left -= int64(n)
	u.sent.Add(int64(n))
	if u.left < 0 {
		return n, errUploadTooLarge
	}
	return n, err
}

// answerList answers a files, cachedContents or batches list with the
// token's own resources across every key, from the records.
func (s *Server) answerList(ctx *fasthttp.RequestCtx, ex *exchange) *Failure {
	rc := &ex.call.resource
	size := ctx.QueryArgs().GetUintOrZero("pageSize")
	if size <= 0 {
		size = 10
	}
	size = min(size, 100)
	after := string(ctx.QueryArgs().Peek("pageToken"))
	recs, err := s.listResources(ex.token.cfg.Name, rc.kind, after, size+1)
	if err != nil {
		s.log.Warn("resource list failed", "err", err)
		return &Failure{Status: fasthttp.StatusServiceUnavailable, RetryAfter: 5 * time.Second, Message: "The resource records cannot be read right now; retry shortly."}
	}
	field := map[string]string{store.KindFile: "files", store.KindCache: "cachedContents", store.KindBatch: "operations"}[rc.kind]
	var b bytes.Buffer
	b.WriteByte('{')
	if n := min(len(recs), size); n > 0 {
		b.WriteString(`"` + field + `":[`)
		for i, r := range recs[:n] {
			if i > 0 {
				b.WriteByte(',')
			}
			if r.Meta != "" && gjson.Valid(r.Meta) {
				b.WriteString(r.Meta)
			} else {
				b.WriteString(`{"name":` + strconv.Quote(r.Name) + `}`)
			}
		}
		b.WriteByte(']')
		if len(recs) > size {
			b.WriteString(`,"nextPageToken":` + strconv.Quote(recs[size-1].Name))
		}
	}
	b.WriteByte('}')
	ctx.Response.Header.SetContentType("application/json; charset=UTF-8")
	ctx.Response.SetBody(b.Bytes())
	return nil
}

// reply records what a successful call created or removed before the
// client learns of it, and points upload URLs back at balance.
func (a filesAdapter) reply(_ *Runtime, ex *exchange, up, _ *fasthttp.Response) *Failure {
	s := a.s
	rc := &ex.call.resource
	key := ex.member.Key
	own := func(name, kind string, size int64, mime, model, meta, expires string) {
		r := store.Resource{Name: name, Kind: kind, KeyHash: key.Hash, KeyFP: key.FP, Token: ex.token.cfg.Name,
			Size: size, MIME: mime, Model: model, Meta: meta, Created: time.Now()}
		if t, err := time.Parse(time.RFC3339Nano, expires); err == nil {
			r.Expires = t
		}
		if err := s.saveResource(r); err != nil {
			s.log.Warn("resource record not saved; other instances cannot route it", "name", name, "err", err)
		}
	}
	body := up.Body()
	switch rc.op {
	case opUploadStart:
		u := string(up.Header.Peek(uploadURLHeaders[0]))
		parsed, err := url.Parse(u)
		id := ""
		if err == nil {
			id = parsed.Query().Get("upload_id")
		}
		if !validResourceID(id) {
			return &Failure{Status: fasthttp.StatusBadGateway, Message: "Google's upload start named no usable upload URL."}
		}
		own("uploads/"+id, store.KindUpload, rc.declared, rc.mime, rc.model, "", time.Now().Add(fileTTL).Format(time.RFC3339Nano))
		local := rc.origin + rc.mount + "/upload/v1beta/files?" + parsed.RawQuery
		for _, h := range uploadURLHeaders {
			if len(up.Header.Peek(h)) > 0 {
				up.Header.Set(h, local)
			}
		}
	case opUploadChunk, opUploadMultipart:
		if strings.Contains(rc.command, "cancel") {
			s.forgetResource(rc.name)
		}
		if rc.op == opUploadChunk && string(up.Header.Peek(uploadStatusHdr)) != "final" {
			return nil
		}
		f := gjson.GetBytes(body, "file")
		name := f.Get("name").Str
		if !strings.HasPrefix(name, "files/") {
			return nil
		}
		// A query after the finalize answers final too: only the finalize
		// (or the multipart upload) counts as an upload.
		ex.uploaded = rc.op == opUploadMultipart || strings.Contains(rc.command, "finalize")
		// The upload's record stays until it expires: a client whose
		// finalize answer was lost queries the same URL for its file.
		own(name, store.KindFile, f.Get("sizeBytes").Int(), f.Get("mimeType").Str, rc.model, f.Raw, f.Get("expirationTime").Str)
	case opCreateCache, opPatch:
		g := gjson.ParseBytes(body)
		if name := g.Get("name").Str; strings.HasPrefix(name, "cachedContents/") {
			own(name, store.KindCache, 0, "", strings.TrimPrefix(g.Get("model").Str, "models/"), string(body), g.Get("expireTime").Str)
		}
	case opCreateBatch:
		if name := gjson.GetBytes(body, "name").Str; strings.HasPrefix(name, "batches/") {
			own(name, store.KindBatch, 0, "", ex.model.Target, string(body), "")
		}
	case opCreateOperation, opGet:
		if rc.op == opCreateOperation {
			if name := gjson.GetBytes(body, "name").Str; isOperationName(name) {
				own(name, store.KindOperation, 0, "", ex.model.Target, "", time.Now().Add(fileTTL).Format(time.RFC3339Nano))
			}
		}
		// What a finished batch or video operation generated is a file in
		// the same project, which its owner downloads: recorded before the
		// client learns its name, like any created resource.
		mime, files := generatedFiles(rc.kind, body)
		for _, f := range files {
			if _, known, _ := s.lookupResource(f); !known {
				own(f, store.KindFile, 0, mime, "", "", time.Now().Add(fileTTL).Format(time.RFC3339Nano))
			}
		}
		// The SDKs read a video's file name only from an https URI (the
		// Node and Python ones take any other string as the name itself),
		// so a client on plain HTTP keeps Google's URI; its SDK downloads
		// through balance all the same.
		if rc.kind == store.KindOperation && len(files) > 0 && strings.HasPrefix(rc.origin, "https://") {
			up.SetBodyRaw(rewriteVideoURIs(body, videoSamples, rc.origin+rc.mount))
		}
	case opDelete:
		s.forgetResource(rc.name)
	}
	return nil
}

// fileTTL is how long Google keeps a file (and a resumable session, and
// a generated video).
const fileTTL = 48 * time.Hour

// isOperationName reports whether name is models/{m}/operations/{id}.
func isOperationName(name string) bool {
	rest, ok := strings.CutPrefix(name, "models/")
	if !ok {
		return false
	}
	model, id, ok := strings.Cut(rest, infixOperations)
	return ok && gemini.ValidModel(model) && validResourceID(id)
}

// generatedFiles names the files a batch or operation answer says it
// generated, and their MIME type: a finished batch's results file, a
// done video operation's videos.
func generatedFiles(kind string, body []byte) (mime string, names []string) {
	switch kind {
	case store.KindBatch:
		if out := gjson.GetBytes(body, "metadata.output.responsesFile").Str; strings.HasPrefix(out, "files/") {
			return "application/jsonl", []string{out}
		}
	case store.KindOperation:
		for _, u := range gjson.GetBytes(body, videoSamples+".#.video.uri").Array() {
			if name, ok := downloadFileName(u.Str); ok {
				names = append(names, name)
			}
		}
		return "video/mp4", names
	}
	return "", nil
}

// videoSamples is where a done video operation lists its videos.
const videoSamples = "response.generateVideoResponse.generatedSamples"

// rewriteVideoURIs points the video URI of every element of the array at
// path in body (a done operation's samples, a create's instances) at base
// (scheme://host and path prefix), keeping Google's path and query.
// Google writes a video's URI on its own host, which opens only with a
// key of the owning project: a client that reached balance over https
// gets balance's, on the prefix it used, as with upload URLs; a video
// sent back to be extended goes to Google in Google's form again.
func rewriteVideoURIs(body []byte, path, base string) []byte {
	for i, el := range gjson.GetBytes(body, path).Array() {
		uri := el.Get("video.uri").Str
		name, ok := downloadFileName(uri)
		if !ok {
			continue
		}
		to := base + "/v1beta/" + name + ":download"
		if _, query, ok := strings.Cut(uri, "?"); ok {
			to += "?" + query
		}
		if b, err := sjson.SetBytes(body, path+"."+strconv.Itoa(i)+".video.uri", to); err == nil {
			body = b
		}
	}
	return body
}

// downloadFileName reads the file a download URI names, as Google writes
// a generated video's: https://…/v1beta/files/{id}:download?alt=media.
func downloadFileName(uri string) (string, bool) {
	uri, _, _ = strings.Cut(uri, "?")
	return fileName(strings.TrimSuffix(uri, ":download"))
}

func (filesAdapter) sink(*Runtime, *exchange) eventSink { return nil }
