package engine

import (
	"context"
	"errors"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/engine/gemini"
	"github.com/balanceproxy/balance/engine/keypool"
	"github.com/balanceproxy/balance/internal/verdict"
)

// probeKey re-checks a quarantined key with models.get, which costs no
// quota (countTokens on Vertex AI Express, which has no models.get). A
// key that answers (even with 429, which proves it is valid) is restored;
// one that is still refused stays quarantined with backoff.
func (s *Server) probeKey(ctx context.Context, k *keypool.Key) (time.Duration, error) {
	rt := s.rt.Load()
	var pool *poolRuntime
	var member keypool.Member
	for _, p := range rt.poolList {
		for _, m := range p.pool.Members() {
			if m.Key == k {
				pool, member = p, m
				break
			}
		}
		if pool != nil {
			break
		}
	}
	if pool == nil {
		return time.Hour, errors.New("key is in no pool")
	}
	if !pool.cfg.Probe.Enabled {
		return pool.cfg.Probe.Max, errors.New("probing is disabled for pool " + pool.cfg.Name)
	}
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	scheme := "http://"
	if pool.target.TLS {
		scheme = "https://"
	}
	if pool.vertex {
		setVertexProbe(req, scheme, pool)
	} else {
		req.SetRequestURI(scheme + pool.target.Host + pool.target.PathPrefix + "/v1beta/models/" + pool.cfg.Probe.Model)
		req.Header.SetMethod(fasthttp.MethodGet)
	}
	pool.setHeaders(req)
	req.Header.Set(headerGoogAPIKeyLower, k.Value())
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(30 * time.Second)
	}
	if err := pool.clients[member.Index].DoDeadline(req, resp, deadline); err != nil {
		return pool.cfg.Probe.Max, errors.New("probe: " + transportVerdict(err).Message)
	}
	v := gemini.Classify(resp.StatusCode(), resp.Body())
	switch v.Class {
	case verdict.OK, verdict.RateLimited, verdict.ClientError:
		s.log.Info("key restored by probe", "key", k.FP, "pool", pool.cfg.Name, "probe_status", resp.StatusCode())
		k.Restore()
		s.keyChanged(k, pool, "")
		return 0, nil
	}
	return pool.cfg.Probe.Max, errors.New("probe: " + v.Class.String() + " " + pool.redact(v.Reason))
}
