package mockgemini

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"hash/crc32"
	"io"
	"mime"
	"mime/multipart"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// The stateful surface: the Files API (resumable and multipart uploads,
// get, list, delete), cached contents and batches. Like Google, the mock
// keeps each resource in the project of the key that created it: another
// key naming it, anywhere (a get, a generate's fileData or cachedContent,
// a batch), gets 403 PERMISSION_DENIED. Files keep only their size and
// CRC-32, so tests can check that a proxy passed every byte through.

// googleFilesURI is the prefix of a file's uri as Google writes it.
const googleFilesURI = "https://generativelanguage.googleapis.com/v1beta/"

// fileTTL is how long Google keeps an uploaded file.
const fileTTL = 48 * time.Hour

// FileInfo is what the mock knows about one uploaded file.
type FileInfo struct {
	Name  string
	Key   string // the key whose project holds it
	Size  int64
	CRC32 uint32 // IEEE, of every byte received
	MIME  string
}

type mockUpload struct {
	key      string
	declared int64 // X-Goog-Upload-Header-Content-Length, -1 when unknown
	received int64
	crc      uint32
	mime     string
	display  string
	// file is the finished upload's file ("files/ID"): a query after the
	// finalize answers final with it, as Google does for a client whose
	// finalize answer was lost.
	file string
}

type ownedResource struct {
	key  string
	json map[string]any
}

type resourceState struct {
	mu      sync.Mutex
	files   map[string]*FileInfo // "files/ID"
	meta    map[string]map[string]any
	uploads map[string]*mockUpload // upload id
	caches  map[string]*ownedResource
	batches map[string]*ownedResource
	// operations are video operations, by name (video.go).
	operations map[string]*mockOperation
	// generated holds the content of generated files (download.go).
	generated map[string]*generatedFile
}

func (st *resourceState) init() {
	if st.files == nil {
		st.files = map[string]*FileInfo{}
		st.meta = map[string]map[string]any{}
		st.uploads = map[string]*mockUpload{}
		st.caches = map[string]*ownedResource{}
		st.batches = map[string]*ownedResource{}
		st.operations = map[string]*mockOperation{}
		st.generated = map[string]*generatedFile{}
	}
}

// File returns the mock's record of an uploaded file ("files/ID").
func (s *Server) File(name string) (FileInfo, bool) {
	st := &s.resources
	st.mu.Lock()
	defer st.mu.Unlock()
	f, ok := st.files[name]
	if !ok {
		return FileInfo{}, false
	}
	return *f, true
}

func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func errPermission(what, name string) apiError {
	return apiError{code: 403, status: "PERMISSION_DENIED", message: "You do not have permission to access the " + what + " " + name + " or it may not exist."}
}

var (
	prefixUpload        = []byte("/upload/v1beta/files")
	prefixDownload      = []byte("/download/v1beta/files/")
	prefixFiles         = []byte("/v1beta/files")
	prefixCaches        = []byte("/v1beta/cachedContents")
	prefixBatches       = []byte("/v1beta/batches")
	suffixBatchGenerate = []byte(":batchGenerateContent")
	infixOperations     = []byte("/operations/")
)

// serveResources answers the stateful routes; false means path is not one.
func (s *Server) serveResources(ctx *fasthttp.RequestCtx, path []byte) bool {
	var serve func(*fasthttp.RequestCtx, string, string)
	var rest []byte
	switch {
	case bytes.Equal(path, prefixUpload):
		serve = s.serveUpload
	case bytes.HasPrefix(path, prefixDownload):
		serve, rest = s.serveFiles, path[len(prefixDownload)-1:]
	case bytes.HasPrefix(path, prefixFiles) && (len(path) == len(prefixFiles) || path[len(prefixFiles)] == '/'):
		serve, rest = s.serveFiles, path[len(prefixFiles):]
	case bytes.HasPrefix(path, prefixCaches) && (len(path) == len(prefixCaches) || path[len(prefixCaches)] == '/'):
		serve, rest = s.serveCaches, path[len(prefixCaches):]
	case bytes.HasPrefix(path, prefixBatches) && (len(path) == len(prefixBatches) || path[len(prefixBatches)] == '/'):
		serve, rest = s.serveBatches, path[len(prefixBatches):]
	case bytes.HasPrefix(path, prefixV1beta) && bytes.HasSuffix(path, suffixBatchGenerate):
		serve, rest = s.serveBatchCreate, path[len(prefixV1beta):len(path)-len(suffixBatchGenerate)]
	case bytes.HasPrefix(path, prefixV1beta) && bytes.HasPrefix(path[len(prefixV1beta):], prefixModels) && bytes.Contains(path, infixOperations):
		serve, rest = s.serveOperation, path[len(prefixV1beta):]
	default:
		return false
	}
	s.total.Add(1)
	s.bump(&s.perPath, path)
	key := s.keyOf(ctx, false)
	r := request{key: key}
	if !s.authenticate(ctx, &r) {
		return true
	}
	s.bump(&s.perKey, key)
	if st := s.faultFor(key, nil); st != nil && st.Kind == RateLimit {
		s.writeError(ctx, errRateLimit("", 7*time.Second), false)
		return true
	}
	s.resources.mu.Lock()
	s.resources.init()
	s.resources.mu.Unlock()
	serve(ctx, string(key), strings.TrimPrefix(string(rest), "/"))
	return true
}

func writeJSON(ctx *fasthttp.RequestCtx, v any) {
	b, _ := json.Marshal(v)
	writeCompact(ctx, b)
}

func fileJSON(f *FileInfo, display string, created time.Time) map[string]any {
	id := strings.TrimPrefix(f.Name, "files/")
	m := map[string]any{
		"name": f.Name, "mimeType": f.MIME, "sizeBytes": strconv.FormatInt(f.Size, 10),
		"createTime": created.UTC().Format(time.RFC3339Nano), "updateTime": created.UTC().Format(time.RFC3339Nano),
		"expirationTime": created.Add(fileTTL).UTC().Format(time.RFC3339Nano),
		"uri":            googleFilesURI + "files/" + id, "state": "ACTIVE", "source": "UPLOADED",
	}
	if display != "" {
		m["displayName"] = display
	}
	return m
}

// serveUpload runs the resumable protocol (start, then upload / upload,
// finalize / query / cancel on the absolute upload URL) and the
// multipart one. A session outlives its finalize, so a query can still
// answer final with the file; cancel ends it.
func (s *Server) serveUpload(ctx *fasthttp.RequestCtx, key, _ string) {
	st := &s.resources
	h := &ctx.Request.Header
	if id := string(ctx.QueryArgs().Peek("upload_id")); id != "" {
		s.serveUploadChunk(ctx, key, id)
		return
	}
	switch strings.ToLower(string(h.Peek("X-Goog-Upload-Protocol"))) {
	case "resumable":
		if !strings.EqualFold(string(h.Peek("X-Goog-Upload-Command")), "start") {
			s.writeError(ctx, errBadRequest("X-Goog-Upload-Command must be start."), false)
			return
		}
		var meta struct {
			File struct {
				DisplayName  string `json:"displayName"`
				DisplayName2 string `json:"display_name"`
			} `json:"file"`
		}
		if body := ctx.PostBody(); len(body) > 0 && json.Unmarshal(body, &meta) != nil {
			s.writeError(ctx, errBadRequest(msgBadJSON), false)
			return
		}
		up := &mockUpload{key: key, declared: -1, mime: string(h.Peek("X-Goog-Upload-Header-Content-Type")), display: meta.File.DisplayName + meta.File.DisplayName2}
		if v := h.Peek("X-Goog-Upload-Header-Content-Length"); len(v) > 0 {
			n, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil || n < 0 {
				s.writeError(ctx, errBadRequest("Invalid X-Goog-Upload-Header-Content-Length."), false)
				return
			}
			up.declared = n
		}
		if up.mime == "" {
			up.mime = "application/octet-stream"
		}
		id := "AU" + randomID(24)
		st.mu.Lock()
		st.uploads[id] = up
		st.mu.Unlock()
		u := "http://" + string(ctx.Host()) + "/upload/v1beta/files?upload_id=" + id + "&upload_protocol=resumable"
		setCommonHeaders(ctx, ctJSON)
		ctx.Response.Header.Set("X-Goog-Upload-Status", "active")
		ctx.Response.Header.Set("X-Goog-Upload-URL", u)
		ctx.Response.Header.Set("X-Goog-Upload-Control-URL", u)
		ctx.Response.Header.Set("X-Goog-Upload-Chunk-Granularity", "8388608")
		ctx.SetBodyString("")
	case "multipart":
		s.serveMultipart(ctx, key)
	default:
		s.writeError(ctx, errBadRequest("Unsupported upload protocol: use X-Goog-Upload-Protocol resumable or multipart."), false)
	}
}

func (s *Server) serveUploadChunk(ctx *fasthttp.RequestCtx, key, id string) {
	st := &s.resources
	h := &ctx.Request.Header
	st.mu.Lock()
	defer st.mu.Unlock()
	up, ok := st.uploads[id]
	if !ok {
		s.writeError(ctx, errNotFound("No such upload session."), false)
		return
	}
	if up.key != key {
		s.writeError(ctx, errPermission("upload", id), false)
		return
	}
	cmd := strings.ToLower(strings.ReplaceAll(string(h.Peek("X-Goog-Upload-Command")), " ", ""))
	status := func(v string) {
		setCommonHeaders(ctx, ctJSON)
		ctx.Response.Header.Set("X-Goog-Upload-Status", v)
		ctx.Response.Header.Set("X-Goog-Upload-Size-Received", strconv.FormatInt(up.received, 10))
		ctx.Response.Header.Set("X-Goog-Upload-Chunk-Granularity", "8388608")
	}
	final := func() {
		status("final")
		b, _ := json.Marshal(map[string]any{"file": st.meta[up.file]})
		ctx.SetBody(appendPretty(nil, b))
	}
	switch {
	case cmd == "query" && up.file != "":
		final()
		return
	case cmd == "query":
		// How much arrived, so a client cut off mid-chunk resumes there.
		status("active")
		ctx.SetBodyString("")
		return
	case cmd == "cancel":
		// The session ends: any later command on it is a 404.
		delete(st.uploads, id)
		status("cancelled")
		ctx.SetBodyString("")
		return
	case up.file != "":
		s.writeError(ctx, errBadRequest("The upload is already finalized."), false)
		return
	case cmd == "upload", cmd == "upload,finalize", cmd == "finalize":
	default:
		s.writeError(ctx, errBadRequest("Unknown X-Goog-Upload-Command."), false)
		return
	}
	offset, err := strconv.ParseInt(string(h.Peek("X-Goog-Upload-Offset")), 10, 64)
	if err != nil || offset != up.received {
		s.writeError(ctx, errBadRequest("Invalid X-Goog-Upload-Offset: the upload has received "+strconv.FormatInt(up.received, 10)+" bytes."), false)
		return
	}
	body := ctx.PostBody()
	if up.declared >= 0 && up.received+int64(len(body)) > up.declared {
		s.writeError(ctx, errBadRequest("The upload exceeds the declared X-Goog-Upload-Header-Content-Length."), false)
		return
	}
	up.crc = crc32.Update(up.crc, crc32.IEEETable, body)
	up.received += int64(len(body))
	if !strings.Contains(cmd, "finalize") {
		status("active")
		ctx.SetBodyString("")
		return
	}
	if up.declared >= 0 && up.received != up.declared {
		s.writeError(ctx, errBadRequest("Finalized after "+strconv.FormatInt(up.received, 10)+" bytes, not the declared "+strconv.FormatInt(up.declared, 10)+"."), false)
		return
	}
	f := &FileInfo{Name: "files/" + randomID(6), Key: key, Size: up.received, CRC32: up.crc, MIME: up.mime}
	st.files[f.Name] = f
	st.meta[f.Name] = fileJSON(f, up.display, time.Now())
	up.file = f.Name
	final()
}

func (s *Server) serveMultipart(ctx *fasthttp.RequestCtx, key string) {
	_, params, err := mime.ParseMediaType(string(ctx.Request.Header.ContentType()))
	if err != nil || params["boundary"] == "" {
		s.writeError(ctx, errBadRequest("A multipart upload needs Content-Type multipart/related; boundary=…."), false)
		return
	}
	mr := multipart.NewReader(bytes.NewReader(ctx.PostBody()), params["boundary"])
	var meta struct {
		File struct {
			DisplayName string `json:"displayName"`
			MIMEType    string `json:"mimeType"`
		} `json:"file"`
	}
	part, err := mr.NextPart()
	if err == nil {
		err = json.NewDecoder(part).Decode(&meta)
	}
	if err == nil {
		part, err = mr.NextPart()
	}
	if err != nil {
		s.writeError(ctx, errBadRequest("Malformed multipart upload: "+err.Error()), false)
		return
	}
	hash := crc32.NewIEEE()
	n, err := io.Copy(hash, part)
	if err != nil {
		s.writeError(ctx, errBadRequest("Malformed multipart upload: "+err.Error()), false)
		return
	}
	mt := meta.File.MIMEType
	if mt == "" {
		mt = part.Header.Get("Content-Type")
	}
	f := &FileInfo{Name: "files/" + randomID(6), Key: key, Size: n, CRC32: hash.Sum32(), MIME: mt}
	st := &s.resources
	st.mu.Lock()
	st.files[f.Name] = f
	m := fileJSON(f, meta.File.DisplayName, time.Now())
	st.meta[f.Name] = m
	st.mu.Unlock()
	writeJSON(ctx, map[string]any{"file": m})
}

// serveFiles answers files.get, files.list and files.delete.
func (s *Server) serveFiles(ctx *fasthttp.RequestCtx, key, id string) {
	st := &s.resources
	st.mu.Lock()
	defer st.mu.Unlock()
	if id == "" {
		if !ctx.IsGet() {
			s.writeError(ctx, errNotFound("Method not found."), false)
			return
		}
		var names []string
		for name, f := range st.files {
			if f.Key == key {
				names = append(names, name)
			}
		}
		items, next := page(ctx, names)
		out := map[string]any{}
		files := make([]any, 0, len(items))
		for _, n := range items {
			files = append(files, st.meta[n])
		}
		if len(files) > 0 {
			out["files"] = files
		}
		if next != "" {
			out["nextPageToken"] = next
		}
		writeJSON(ctx, out)
		return
	}
	id, method, _ := strings.Cut(id, ":")
	name := "files/" + id
	f, ok := st.files[name]
	if !ok || f.Key != key {
		s.writeError(ctx, errPermission("File", id), false)
		return
	}
	switch {
	case ctx.IsGet() && method == "":
		writeJSON(ctx, st.meta[name])
	case ctx.IsDelete() && method == "":
		delete(st.files, name)
		delete(st.meta, name)
		delete(st.generated, name)
		writeJSON(ctx, map[string]any{})
	case method == "download":
		s.serveDownload(ctx, name)
	default:
		s.writeError(ctx, errNotFound("Method not found."), false)
	}
}

// page cuts a sorted name list at ?pageToken= (the last name sent) into
// ?pageSize= items (default 10).
func page(ctx *fasthttp.RequestCtx, names []string) (items []string, next string) {
	sort.Strings(names)
	size := ctx.QueryArgs().GetUintOrZero("pageSize")
	if size <= 0 {
		size = 10
	}
	after := string(ctx.QueryArgs().Peek("pageToken"))
	i := sort.SearchStrings(names, after)
	if after != "" && i < len(names) && names[i] == after {
		i++
	}
	items = names[i:]
	if len(items) > size {
		items = items[:size]
		next = items[len(items)-1]
	}
	return items, next
}

// referencedResources lists the files and cached content a request body
// names: fileData.fileUri / fileName anywhere, and cachedContent.
func referencedResources(body []byte) (files []string, cache string) {
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				if sv, ok := c.(string); ok {
					switch k {
					case "fileUri", "file_uri", "fileName", "file_name":
						if i := strings.LastIndex(sv, "files/"); i >= 0 {
							files = append(files, sv[i:])
						}
					case "cachedContent", "cached_content":
						cache = sv
					}
				}
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	var v any
	if json.Unmarshal(body, &v) == nil {
		walk(v)
	}
	return files, cache
}

// ownsReferences applies Google's ownership rule to a generate-family
// call: a file or cached content of another key's project is a 403. It
// answers and returns false when the call may not go on.
func (s *Server) ownsReferences(ctx *fasthttp.RequestCtx, key []byte) bool {
	body := ctx.PostBody()
	if !bytes.Contains(body, []byte("files/")) && !bytes.Contains(body, []byte("cachedContents/")) {
		return true
	}
	files, cache := referencedResources(body)
	st := &s.resources
	st.mu.Lock()
	defer st.mu.Unlock()
	st.init()
	for _, name := range files {
		if f, ok := st.files[name]; !ok || f.Key != string(key) {
			s.writeError(ctx, errPermission("File", strings.TrimPrefix(name, "files/")), false)
			return false
		}
	}
	if cache != "" {
		if c, ok := st.caches[cache]; !ok || c.key != string(key) {
			s.writeError(ctx, apiError{code: 403, status: "PERMISSION_DENIED", message: "CachedContent not found (or permission denied)"}, false)
			return false
		}
	}
	return true
}

// serveCaches answers cachedContents create, get, list, patch and delete.
func (s *Server) serveCaches(ctx *fasthttp.RequestCtx, key, id string) {
	if id == "" && ctx.IsPost() {
		if !s.ownsReferences(ctx, []byte(key)) {
			return
		}
		var req map[string]any
		if json.Unmarshal(ctx.PostBody(), &req) != nil {
			s.writeError(ctx, errBadRequest(msgBadJSON), false)
			return
		}
		model, _ := req["model"].(string)
		if !strings.HasPrefix(model, "models/") {
			s.writeError(ctx, errBadRequest("cachedContent.model must be models/{model}."), false)
			return
		}
		now := time.Now().UTC()
		ttl := time.Hour
		if v, ok := req["ttl"].(string); ok {
			if d, err := time.ParseDuration(v); err == nil {
				ttl = d
			}
		}
		name := "cachedContents/" + randomID(8)
		out := map[string]any{"name": name, "model": model, "createTime": now.Format(time.RFC3339Nano), "updateTime": now.Format(time.RFC3339Nano),
			"expireTime": now.Add(ttl).Format(time.RFC3339Nano), "usageMetadata": map[string]any{"totalTokenCount": 4096}}
		if d, ok := req["displayName"]; ok {
			out["displayName"] = d
		}
		st := &s.resources
		st.mu.Lock()
		st.caches[name] = &ownedResource{key: key, json: out}
		st.mu.Unlock()
		writeJSON(ctx, out)
		return
	}
	s.serveOwned(ctx, key, "cachedContents/", id, s.resources.caches, "CachedContent")
}

// serveOwned answers get, list, patch, delete and :cancel on a map of
// owned resources.
func (s *Server) serveOwned(ctx *fasthttp.RequestCtx, key, prefix, id string, m map[string]*ownedResource, what string) {
	st := &s.resources
	st.mu.Lock()
	defer st.mu.Unlock()
	if id == "" {
		var names []string
		for name, r := range m {
			if r.key == key {
				names = append(names, name)
			}
		}
		items, next := page(ctx, names)
		list := make([]any, 0, len(items))
		for _, n := range items {
			list = append(list, m[n].json)
		}
		field := "cachedContents"
		if prefix == "batches/" {
			field = "operations"
		}
		out := map[string]any{}
		if len(list) > 0 {
			out[field] = list
		}
		if next != "" {
			out["nextPageToken"] = next
		}
		writeJSON(ctx, out)
		return
	}
	id, method, _ := strings.Cut(id, ":")
	name := prefix + id
	r, ok := m[name]
	if !ok || r.key != key {
		s.writeError(ctx, errPermission(what, id), false)
		return
	}
	switch {
	case ctx.IsGet() && method == "":
		writeJSON(ctx, r.json)
	case ctx.IsDelete() && method == "":
		delete(m, name)
		writeJSON(ctx, map[string]any{})
	case string(ctx.Method()) == fasthttp.MethodPatch && method == "":
		var patch map[string]any
		if json.Unmarshal(ctx.PostBody(), &patch) != nil {
			s.writeError(ctx, errBadRequest(msgBadJSON), false)
			return
		}
		if v, ok := patch["ttl"].(string); ok {
			if d, err := time.ParseDuration(v); err == nil {
				r.json["expireTime"] = time.Now().UTC().Add(d).Format(time.RFC3339Nano)
			}
		}
		if v, ok := patch["expireTime"].(string); ok {
			r.json["expireTime"] = v
		}
		writeJSON(ctx, r.json)
	case ctx.IsPost() && method == "cancel":
		if md, ok := r.json["metadata"].(map[string]any); ok {
			md["state"] = "BATCH_STATE_CANCELLED"
		}
		writeJSON(ctx, map[string]any{})
	default:
		s.writeError(ctx, errNotFound("Method not found."), false)
	}
}

// serveBatchCreate answers models/{m}:batchGenerateContent with a batch
// that has already succeeded (the mock does not run it).
func (s *Server) serveBatchCreate(ctx *fasthttp.RequestCtx, key, modelPath string) {
	if !ctx.IsPost() {
		s.writeError(ctx, errNotFound("Method not found."), false)
		return
	}
	if !s.ownsReferences(ctx, []byte(key)) {
		return
	}
	var req struct {
		Batch map[string]any `json:"batch"`
	}
	if json.Unmarshal(ctx.PostBody(), &req) != nil || req.Batch == nil {
		s.writeError(ctx, errBadRequest("The request needs a batch object."), false)
		return
	}
	name := "batches/" + randomID(8)
	now := time.Now().UTC().Format(time.RFC3339Nano)
	md := map[string]any{"@type": "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch",
		"name": name, "model": modelPath, "createTime": now, "updateTime": now, "state": "BATCH_STATE_PENDING"}
	if d, ok := req.Batch["displayName"]; ok {
		md["displayName"] = d
	}
	out := map[string]any{"name": name, "metadata": md}
	st := &s.resources
	st.mu.Lock()
	// A batch read from a file finishes at once with a results file in
	// the same project.
	if in, ok := req.Batch["inputConfig"].(map[string]any); ok {
		if _, ok := in["fileName"].(string); ok {
			lines := []byte(`{"key":"request-1","response":{"candidates":[{"content":{"role":"model","parts":[{"text":"Mock batch answer."}]},"finishReason":"STOP"}]}}` + "\n")
			g, res := &generatedFile{data: lines}, &FileInfo{Name: "files/" + randomID(6), Key: key, Size: int64(len(lines)), CRC32: crc32.ChecksumIEEE(lines), MIME: "application/jsonl"}
			if n := s.opts.BatchResultsSize; n > 0 {
				g, res.CRC32 = patternFile(n)
				res.Size = n
			}
			st.addGenerated(res, g)
			md["state"] = "BATCH_STATE_SUCCEEDED"
			md["output"] = map[string]any{"responsesFile": res.Name}
		}
	}
	st.batches[name] = &ownedResource{key: key, json: out}
	st.mu.Unlock()
	writeJSON(ctx, out)
}

// serveBatches answers batches get, list, cancel and delete.
func (s *Server) serveBatches(ctx *fasthttp.RequestCtx, key, id string) {
	s.serveOwned(ctx, key, "batches/", id, s.resources.batches, "batch")
}
