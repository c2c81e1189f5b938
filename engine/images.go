package engine

import (
	"context"
	"os"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/engine/imagehost"
	"github.com/balanceproxy/balance/hcl"
)

// Generated images kept for links (image_host): the local store's
// route, its sweeper, and the linker chat answers use.

var prefixImages = []byte(hcl.ImagesPath + "/")

// serveImage answers GET /images/NAME from the local image store. It
// asks for no credential: browsers fetch these links from chat answers
// and send none, so the 128-bit name is the secret and it expires. Any
// miss, expiry included, is the same 404.
func (s *Server) serveImage(ctx *fasthttp.RequestCtx, rt *Runtime) {
	local, ok := rt.images.(*imagehost.Local)
	if !ok {
		writeGeminiError(ctx, fasthttp.StatusNotFound, "No image store: image_host is not local.", 0)
		return
	}
	if !ctx.IsGet() && !ctx.IsHead() {
		ctx.Response.Header.Set("Allow", "GET, HEAD")
		writeGeminiError(ctx, fasthttp.StatusMethodNotAllowed, "Images are read with GET.", 0)
		return
	}
	path, mime, left, ok := local.Open(string(ctx.Path()[len(prefixImages):]), time.Now())
	if !ok {
		writeGeminiError(ctx, fasthttp.StatusNotFound, "No such image, or its link expired.", 0)
		return
	}
	data, err := os.ReadFile(path)
	if err != nil {
		writeGeminiError(ctx, fasthttp.StatusNotFound, "No such image, or its link expired.", 0)
		return
	}
	ctx.SetContentType(mime)
	ctx.Response.Header.Set("Cache-Control", "private, max-age="+strconv.FormatInt(int64(left/time.Second), 10))
	ctx.Response.Header.Set("X-Content-Type-Options", "nosniff")
	ctx.SetBody(data)
}

// sweepImages deletes expired images of the live generation's local
// store every minute until ctx ends.
func (s *Server) sweepImages(ctx context.Context) {
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			if local, ok := s.rt.Load().images.(*imagehost.Local); ok {
				if _, err := local.Sweep(now); err != nil {
					s.log.Warn("image store sweep failed", "dir", local.Dir, "err", err)
				}
			}
		}
	}
}

// imageLinker keeps chat answers' images on the image host.
type imageLinker struct{ host imagehost.Host }

func (l imageLinker) Link(data []byte, mime string) (string, error) {
	return l.host.Put(context.Background(), data, mime) // uploads are bounded by image_host.timeout
}
