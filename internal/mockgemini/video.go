package mockgemini

import (
	"strings"

	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"
)

// Veo video generation is a long-running operation, as Google runs it:
// POST models/{m}:predictLongRunning answers {"name":
// "models/{m}/operations/{id}"}; GET on that name answers the operation,
// which is done after Options.VideoDoneAfter polls with one generated
// file per sample (response.generateVideoResponse.generatedSamples[].
// video.uri), downloaded like a batch's results (download.go). The
// operation and its files belong to the key that started it: another key
// polling it gets 404 (a project's operations are private), and
// downloading its files the 403 of any other file.

// videoSize is the size of a generated video, in bytes of a pattern.
const videoSize = 256 << 10

// mockOperation is a video operation and the key whose project runs it.
type mockOperation struct {
	key     string
	samples int
	polls   int
	// files are the generated videos, made on the poll that finds the
	// operation done.
	files []string
}

// serveVideo answers models/{m}:predictLongRunning: instances[] each with
// a prompt, an image or a video to extend (video.uri, a generated video
// of the same project), parameters.sampleCount 1–4 (default 1).
func (s *Server) serveVideo(ctx *fasthttp.RequestCtx, m *modelInfo, key, body []byte) {
	inst, samples, e := parseInstances(body, "PredictLongRunningRequest", 1, "sampleCount must be in the range [1, 4].")
	if e != nil {
		s.writeError(ctx, *e, false)
		return
	}
	var bad bool
	var videos []string
	inst.ForEach(func(_, in gjson.Result) bool {
		bad = strings.TrimSpace(in.Get("prompt").String()) == "" && !in.Get("image").Exists() && !in.Get("video").Exists()
		if u := in.Get("video.uri").Str; u != "" {
			videos = append(videos, u)
		}
		return !bad
	})
	if bad {
		s.writeError(ctx, errBadRequest("A prompt, an image or a video is required."), false)
		return
	}
	st := &s.resources
	st.mu.Lock()
	defer st.mu.Unlock()
	st.init()
	for _, u := range videos {
		id := u
		if i := strings.LastIndex(u, "files/"); i >= 0 {
			id = u[i+len("files/"):]
		}
		id, _, _ = strings.Cut(id, ":")
		if f, ok := st.files["files/"+id]; !ok || f.Key != string(key) {
			s.writeError(ctx, errPermission("File", id), false)
			return
		}
	}
	name := "models/" + m.id + "/operations/" + randomID(6)
	st.operations[name] = &mockOperation{key: string(key), samples: samples}
	writeJSON(ctx, map[string]any{"name": name})
}

// serveOperation answers GET models/{m}/operations/{id}.
func (s *Server) serveOperation(ctx *fasthttp.RequestCtx, key, name string) {
	st := &s.resources
	st.mu.Lock()
	defer st.mu.Unlock()
	op, ok := st.operations[name]
	switch {
	case !ok || op.key != key:
		s.writeError(ctx, errNotFound("Requested entity was not found."), false)
		return
	case !ctx.IsGet():
		s.writeError(ctx, errNotFound("Method not found."), false)
		return
	}
	op.polls++
	doneAfter := s.opts.VideoDoneAfter
	if doneAfter <= 0 {
		doneAfter = 2
	}
	if op.polls < doneAfter {
		writeJSON(ctx, map[string]any{"name": name})
		return
	}
	if op.files == nil {
		for range op.samples {
			g, crc := patternFile(videoSize)
			f := &FileInfo{Name: "files/" + randomID(6), Key: key, Size: videoSize, CRC32: crc, MIME: "video/mp4"}
			st.addGenerated(f, g)
			op.files = append(op.files, f.Name)
		}
	}
	samples := make([]any, len(op.files))
	for i, f := range op.files {
		samples[i] = map[string]any{"video": map[string]any{"uri": st.meta[f]["downloadUri"]}}
	}
	writeJSON(ctx, map[string]any{"name": name, "done": true, "response": map[string]any{
		"@type":                 "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse",
		"generateVideoResponse": map[string]any{"generatedSamples": samples},
	}})
}
