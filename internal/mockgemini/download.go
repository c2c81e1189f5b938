package mockgemini

import (
	"bytes"
	"hash/crc32"
	"io"
	"time"

	"github.com/valyala/fasthttp"
)

// Google lets a client download only the files it generated (a batch's
// results, a video), not uploaded ones: GET .../files/{id}:download?alt=media,
// under /v1beta (the SDKs) or /download/v1beta (the docs' curl). The mock
// serves a generated file's bytes as a stream, made as they are sent, so
// a test can download hundreds of megabytes that nobody holds
// (Options.BatchResultsSize).

// generatedFile is a generated file's content: data, or size bytes of
// the pattern seeded with seed.
type generatedFile struct {
	data []byte
	size int64
	seed uint64
}

func (g *generatedFile) reader() io.Reader {
	if g.data != nil {
		return bytes.NewReader(g.data)
	}
	return NewPattern(g.size, g.seed)
}

// Pattern yields n pseudo-random bytes from a seed without holding them,
// and keeps the CRC-32 (IEEE) of what it yielded.
type Pattern struct {
	left  int64
	state uint64
	crc   uint32
}

// NewPattern returns a Pattern of n bytes.
func NewPattern(n int64, seed uint64) *Pattern { return &Pattern{left: n, state: seed} }

func (r *Pattern) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	n := min(int64(len(p)), r.left)
	for i := range n {
		r.state = r.state*6364136223846793005 + 1442695040888963407
		p[i] = byte(r.state >> 56)
	}
	r.crc = crc32.Update(r.crc, crc32.IEEETable, p[:n])
	r.left -= n
	return int(n), nil
}

// CRC32 is the CRC-32 of the bytes read so far.
func (r *Pattern) CRC32() uint32 { return r.crc }

// patternFile returns the content of a generated file of size pattern
// bytes, and its CRC-32.
func patternFile(size int64) (*generatedFile, uint32) {
	g := &generatedFile{size: size, seed: uint64(time.Now().UnixNano())}
	p := NewPattern(size, g.seed)
	_, _ = io.Copy(io.Discard, p)
	return g, p.CRC32()
}

// addGenerated records f, generated with content g; st.mu is held.
func (st *resourceState) addGenerated(f *FileInfo, g *generatedFile) {
	st.files[f.Name] = f
	m := fileJSON(f, "", time.Now())
	m["source"] = "GENERATED"
	m["downloadUri"] = googleFilesURI + f.Name + ":download?alt=media"
	st.meta[f.Name] = m
	st.generated[f.Name] = g
}

// serveDownload answers files/{id}:download for name, which key owns;
// st.mu is held.
func (s *Server) serveDownload(ctx *fasthttp.RequestCtx, name string) {
	st := &s.resources
	g, ok := st.generated[name]
	switch {
	case !ctx.IsGet():
		s.writeError(ctx, errNotFound("Method not found."), false)
	case string(ctx.QueryArgs().Peek("alt")) != "media":
		s.writeError(ctx, errBadRequest("files.download needs alt=media."), false)
	case !ok:
		s.writeError(ctx, errBadRequest("Only GENERATED files can be downloaded."), false)
	default:
		f := st.files[name]
		setCommonHeaders(ctx, f.MIME)
		ctx.SetBodyStream(g.reader(), int(f.Size))
	}
}
