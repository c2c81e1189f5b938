package engine

import (
	"crypto/sha256"
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/balanceproxy/balance/engine/imagehost"
	"github.com/balanceproxy/balance/engine/keypool"
	"github.com/balanceproxy/balance/engine/openai"
	"github.com/balanceproxy/balance/engine/upstream"
	"github.com/balanceproxy/balance/hcl"
	"github.com/balanceproxy/balance/internal/secret"
	"github.com/balanceproxy/balance/internal/verdict"
)

// Runtime is one config generation made ready to serve: every lookup a
// request needs is precomputed. It is immutable once built; a reload
// builds a new Runtime beside the old one and swaps it in atomically, so a
// request runs start to end on the Runtime it began with.
type Runtime struct {
	Config     *hcl.Config
	Generation uint64
	Loaded     time.Time
	// genHeader is Generation as text, for the X-Balance-Generation header.
	genHeader string

	pools    map[string]*poolRuntime
	poolList []*poolRuntime
	// tokens maps sha256(secret) to the token, so a lookup reveals
	// nothing through timing about how much of a secret matched.
	tokens   map[[32]byte]*tokenRuntime
	models   *modelRules
	redactor *secret.Redactor
	// keySet is every key value in this generation, for Registry.Retain.
	keySet map[string]bool
	// keyFP names each key of keySet as the registry does.
	keyFP   map[string]string
	clients map[*fasthttp.HostClient]bool
	hooks   *hookSet

	openAIOnce sync.Once
	openAIOpts openai.Options
	// modelLists caches each pool's upstream models list.
	modelLists modelListCache
	// images keeps generated images for links (nil without image_host).
	images imagehost.Host
}

type poolRuntime struct {
	cfg      *hcl.Pool
	pool     *keypool.Pool
	target   upstream.Target
	upstream *hcl.Upstream
	// clients[i] serves members[i], through that key's egress proxy.
	clients  []*fasthttp.HostClient
	cooldown keypool.CooldownPolicy
	retryOn  verdict.Set // classes that move a request to another key
	blame    verdict.Set // classes that change the key's state
	redactor *secret.Redactor
	// headers are the upstream block's extra headers, set on every
	// upstream request and probe.
	headers [][2]string
	// vertex is set for a pool on a vertex_express upstream.
	vertex bool
	// fallback are the pools (pool.fallback, in order) that take a
	// request when no key of this pool can.
	fallback []*poolRuntime
}

type tokenRuntime struct {
	cfg    *hcl.Token
	secret []byte
	pools  []*poolRuntime
}

// buildRuntime prepares cfg for serving. It reads no files and makes no
// network calls: everything it needs was validated by the hcl package.
func buildRuntime(cfg *hcl.Config, gen uint64, reg *keypool.Registry, clients *upstream.Clients) (*Runtime, error) {
	rt := &Runtime{
		Config: cfg, Generation: gen, Loaded: time.Now(), genHeader: strconv.FormatUint(gen, 10),
		pools:   map[string]*poolRuntime{},
		tokens:  map[[32]byte]*tokenRuntime{},
		keySet:  map[string]bool{},
		keyFP:   map[string]string{},
		clients: map[*fasthttp.HostClient]bool{},
	}
	if cfg.ImageHost != nil {
		rt.images = imagehost.New(cfg.ImageHost)
	}
	var allSecrets []secret.Known
	for _, p := range cfg.Pools {
		up := cfg.Upstream(p.Upstream)
		if up == nil {
			return nil, fmt.Errorf("pool %q: unknown upstream %q", p.Name, p.Upstream)
		}
		target, err := upstream.ParseTarget(up.BaseURL)
		if err != nil {
			return nil, fmt.Errorf("pool %q: %w", p.Name, err)
		}
		proxies := p.Proxies
		if len(proxies) == 0 {
			proxies = up.Proxies
		}
		pr := &poolRuntime{
			cfg: p, target: target, upstream: up,
			cooldown: keypool.CooldownPolicy{Base: p.Cooldown.Base, Max: p.Cooldown.Max, Multiplier: p.Cooldown.Multiplier, Daily: p.Cooldown.Daily},
			retryOn:  verdict.NewSet(p.RetryOn),
			blame:    verdict.NewSet(p.Blame),
			vertex:   up.Kind == hcl.KindVertexExpress,
		}
		for _, name := range slices.Sorted(maps.Keys(up.Headers)) {
			pr.headers = append(pr.headers, [2]string{name, up.Headers[name]})
		}
		members := make([]keypool.Member, 0, len(p.Keys))
		opts := upstream.Options{MaxConns: up.MaxConns, IdleTimeout: cfg.Server.StreamIdleTimeout, MaxResponseBody: up.MaxResponseBody}
		for _, k := range p.Keys {
			proxy := upstream.PickProxy(k.Value, proxies)
			hc, err := clients.Get(target, proxy, opts)
			if err != nil {
				return nil, fmt.Errorf("pool %q: %w", p.Name, err)
			}
			rt.clients[hc] = true
			key := reg.Get(k.Value)
			members = append(members, keypool.Member{Key: key, Weight: k.Weight, Proxy: proxy})
			pr.clients = append(pr.clients, hc)
			rt.keySet[k.Value] = true
			rt.keyFP[k.Value] = key.FP
			// A redacted body names a key as status does.
			allSecrets = append(allSecrets, secret.Known{Value: k.Value, Name: key.FP})
		}
		pr.pool = keypool.NewPool(p.Name, members, keypool.ParseStrategy(p.Strategy), keypool.Limits{RPM: p.Limits.RPM, RPD: p.Limits.RPD, TPM: p.Limits.TPM})
		rt.pools[p.Name] = pr
		rt.poolList = append(rt.poolList, pr)
	}
	for _, p := range rt.poolList {
		for _, name := range p.cfg.Fallback {
			p.fallback = append(p.fallback, rt.pools[name])
		}
	}
	for _, t := range cfg.Tokens {
		tr := &tokenRuntime{cfg: t}
		for _, name := range t.Pools {
			tr.pools = append(tr.pools, rt.pools[name])
		}
		for _, s := range t.Secrets {
			// Each secret gets its own record so constant-time compare
			// runs against the secret that hashed to the slot.
			rec := *tr
			rec.secret = []byte(s)
			rt.tokens[sha256.Sum256([]byte(s))] = &rec
			allSecrets = append(allSecrets, secret.Known{Value: s})
		}
	}
	for _, s := range []string{cfg.Status.Token, cfg.Metrics.Token} {
		if s != "" {
			allSecrets = append(allSecrets, secret.Known{Value: s})
		}
	}
	rt.models = newModelRules(cfg)
	rt.redactor = secret.NewRedactorWith(allSecrets)
	for _, p := range rt.poolList {
		p.redactor = rt.redactor
	}
	return rt, nil
}

// tokenAllowsModel reports whether a token may use model. An empty list
// allows every model.
func (t *tokenRuntime) allowsModel(model string) bool {
	if len(t.cfg.Models) == 0 {
		return true
	}
	for _, g := range t.cfg.Models {
		if ok, _ := path.Match(g, model); ok {
			return true
		}
	}
	return false
}

// poolFor picks the pool a request on model goes to: the model rule's pool
// when it has one (and the token may use it), else the token's first pool.
func (t *tokenRuntime) poolFor(rulePool string) (*poolRuntime, bool) {
	if rulePool == "" {
		return t.pools[0], true
	}
	for _, p := range t.pools {
		if p.cfg.Name == rulePool {
			return p, true
		}
	}
	return nil, false
}

// summary describes what changed between two generations in one line.
func (rt *Runtime) summary(prev *Runtime) string {
	if prev == nil {
		return fmt.Sprintf("pools=%d keys=%d tokens=%d models=%d hooks=%d", len(rt.poolList), len(rt.keySet), len(rt.Config.Tokens), len(rt.Config.Models), len(rt.Config.Hooks))
	}
	var added, removed []string
	for k := range rt.keySet {
		if !prev.keySet[k] {
			added = append(added, rt.keyFP[k])
		}
	}
	for k := range prev.keySet {
		if !rt.keySet[k] {
			removed = append(removed, prev.keyFP[k])
		}
	}
	names := func(c *hcl.Config) map[string]bool {
		m := map[string]bool{}
		for _, p := range c.Pools {
			m["pool "+p.Name] = true
		}
		for _, t := range c.Tokens {
			m["token "+t.Name] = true
		}
		for _, r := range c.Models {
			m["model "+r.Name] = true
		}
		for _, h := range c.Hooks {
			m["hook "+h.Name] = true
		}
		return m
	}
	now, before := names(rt.Config), names(prev.Config)
	var plus, minus []string
	for n := range now {
		if !before[n] {
			plus = append(plus, n)
		}
	}
	for n := range before {
		if !now[n] {
			minus = append(minus, n)
		}
	}
	return fmt.Sprintf("keys +%d %s -%d %s; blocks +[%s] -[%s]", len(added), abbreviate(added), len(removed), abbreviate(removed), strings.Join(slices.Sorted(slices.Values(plus)), ", "), strings.Join(slices.Sorted(slices.Values(minus)), ", "))
}

func abbreviate(fps []string) string {
	slices.Sort(fps)
	if len(fps) > 5 {
		return "[" + strings.Join(fps[:5], " ") + " …]"
	}
	return "[" + strings.Join(fps, " ") + "]"
}

// setHeaders puts the upstream block's extra headers on req.
func (p *poolRuntime) setHeaders(req *fasthttp.Request) {
	for _, h := range p.headers {
		req.Header.Set(h[0], h[1])
	}
}
