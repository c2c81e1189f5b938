package hcl

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/url"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/balanceproxy/balance/hooks"
	"github.com/balanceproxy/balance/internal/verdict"
	hclv2 "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// Defaults, in one place so the README's reference can quote them.
const (
	DefaultListen         = "127.0.0.1:8000"
	DefaultMaxRequestBody = 32 << 20
	// DefaultMaxBodyMemory bounds the request bodies held in memory at
	// once; the default is this or 4 × max_request_body, the larger.
	DefaultMaxBodyMemory     = 256 << 20
	DefaultReadTimeout       = 30 * time.Second
	DefaultIdleTimeout       = 90 * time.Second
	DefaultShutdownGrace     = 30 * time.Second
	DefaultStreamIdleTimeout = 120 * time.Second
	DefaultUpstreamTimeout   = 600 * time.Second
	DefaultMaxConns          = 4096
	// DefaultMaxResponseBody bounds a unary upstream answer held in
	// memory: several generated images fit, a runaway body does not.
	DefaultMaxResponseBody = 64 << 20
	DefaultMaxRetries      = 3
	DefaultCooldown        = 60 * time.Second
	DefaultCooldownMax     = time.Hour
	DefaultProbeInterval   = 30 * time.Second
	DefaultProbeMax        = 30 * time.Minute
	DefaultProbeModel      = "gemini-2.5-flash"
	// Stream pacing: 5 characters every 20 ms is a steady typing effect
	// (250 characters a second), at most 2 s behind the upstream.
	DefaultPacingChunkChars = 5
	DefaultPacingInterval   = 20 * time.Millisecond
	DefaultPacingMaxDelay   = 2 * time.Second
	// DefaultKeysPattern is the shape of a Google API key, used to pull
	// keys out of arbitrary text in keys_file.
	DefaultKeysPattern = `AIza[0-9A-Za-z_\-]{35}`
)

// Strategies a pool may use.
var strategies = []string{"round_robin", "random", "least_recently_used"}

var hookPhases = []string{"request", "response", "chunk"}

func (l *loader) build(raw *rawRoot) *Config {
	loc := locator{body: l.syntax}
	cfg := &Config{}
	l.buildServer(raw.Server, loc.top("server", 0), &cfg.Server)

	proxyGroups := map[string]*ProxyGroup{}
	seenProxy := labels{}
	for i, rp := range raw.Proxies {
		b := loc.top("proxy", i)
		g := &ProxyGroup{Name: rp.Name, URLs: l.proxyURLs(rp.URLs, b, "urls")}
		if len(g.URLs) == 0 && len(rp.URLs) == 0 {
			l.errorf(attrRange(b, "urls"), "Empty proxy group", "Proxy group %q lists no proxy URLs.", rp.Name)
		}
		if !l.unique(seenProxy, "proxy", rp.Name, b) {
			continue
		}
		proxyGroups[rp.Name] = g
		cfg.Proxies = append(cfg.Proxies, g)
	}
	groupNames := func() []string {
		var out []string
		for n := range proxyGroups {
			out = append(out, n)
		}
		return out
	}
	resolveProxies := func(b *hclsyntax.Block, urls []string, group *string) []string {
		out := l.proxyURLs(urls, b, "proxies")
		if group != nil {
			g, ok := proxyGroups[*group]
			if !ok {
				l.errorf(attrRange(b, "proxy_group"), "Unknown proxy group", "No proxy block is named %q.%s", *group, didYouMean(*group, groupNames()))
			} else {
				out = append(out, g.URLs...)
			}
		}
		return out
	}

	upstreams := map[string]bool{}
	seenUpstream := labels{}
	for i, ru := range raw.Upstreams {
		b := loc.top("upstream", i)
		dup := !l.unique(seenUpstream, "upstream", ru.Name, b)
		u := &Upstream{Name: ru.Name, BaseURL: strings.TrimRight(ru.BaseURL, "/"), Headers: ru.Headers, MaxConns: DefaultMaxConns, MaxResponseBody: DefaultMaxResponseBody}
		if pu, err := url.Parse(u.BaseURL); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			l.errorf(attrRange(b, "base_url"), "Invalid base_url", "%q must be an absolute http:// or https:// URL.", ru.BaseURL)
		}
		u.Timeout = l.duration(ru.Timeout, DefaultUpstreamTimeout, b, "timeout")
		if ru.MaxConns != nil {
			u.MaxConns = *ru.MaxConns
			if u.MaxConns < 1 {
				l.errorf(attrRange(b, "max_conns"), "Invalid max_conns", "max_conns must be at least 1.")
			}
		}
		if ru.MaxResponseBody != nil {
			n := l.size(ru.MaxResponseBody, b, "max_response_body")
			if n < 64<<10 || n > 1<<31-1 {
				l.errorf(attrRange(b, "max_response_body"), "Invalid max_response_body", "max_response_body must be between 64KiB and 2GiB.")
			}
			u.MaxResponseBody = int(n)
		}
		for _, name := range slices.Sorted(maps.Keys(ru.Headers)) {
			if !validHeaderName(name) {
				l.errorf(attrRange(b, "headers"), "Invalid header name", "%q is not an HTTP header name.", name)
			} else if hopOrCredential(name) {
				l.errorf(attrRange(b, "headers"), "Header not allowed", "%q cannot be set on upstream requests: balance sets the key and the framing headers itself.", name)
			}
		}
		u.Proxies = resolveProxies(b, ru.Proxies, ru.Proxy)
		u.Kind = l.upstreamKind(ru, b)
		if dup {
			continue
		}
		upstreams[ru.Name] = true
		cfg.Upstreams = append(cfg.Upstreams, u)
	}
	upstreamNames := keysOf(upstreams)

	hookNames := map[string]bool{}
	seenHook := labels{}
	for i, rh := range raw.Hooks {
		b := loc.top("hook", i)
		h := l.buildHook(rh, b)
		if !l.unique(seenHook, "hook", rh.Name, b) {
			continue
		}
		hookNames[rh.Name] = true
		cfg.Hooks = append(cfg.Hooks, h)
	}
	checkHooks := func(b *hclsyntax.Block, names []string) {
		for i, n := range names {
			if !hookNames[n] {
				l.errorf(elemRange(b, "hooks", i), "Unknown hook", "No hook block is named %q.%s", n, didYouMean(n, keysOf(hookNames)))
			}
		}
	}

	pools := map[string]bool{}
	seenPool := labels{}
	for i, rp := range raw.Pools {
		b := loc.top("pool", i)
		if !upstreams[rp.Upstream] {
			l.errorf(attrRange(b, "upstream"), "Unknown upstream", "Pool %q names upstream %q, which is not declared.%s", rp.Name, rp.Upstream, didYouMean(rp.Upstream, upstreamNames))
		}
		p := l.buildPool(rp, b)
		p.Fallback = rp.Fallback
		p.Proxies = resolveProxies(b, rp.Proxies, rp.ProxyGroup)
		checkHooks(b, rp.Hooks)
		if !l.unique(seenPool, "pool", rp.Name, b) {
			continue
		}
		pools[rp.Name] = true
		cfg.Pools = append(cfg.Pools, p)
	}
	poolNames := keysOf(pools)
	l.checkPoolKinds(cfg, loc)
	l.checkFallback(cfg, loc, poolNames)

	secrets := map[string]string{}
	seenToken := labels{}
	for i, rt := range raw.Tokens {
		b := loc.top("token", i)
		t := l.buildToken(rt, b)
		if !l.unique(seenToken, "token", rt.Name, b) {
			continue
		}
		for _, s := range t.Secrets {
			if other, dup := secrets[s]; dup && s != "" {
				l.errorf(blockRange(b), "Shared token secret", "Token %q uses the same secret as token %q; each client must be told apart.", rt.Name, other)
			}
			secrets[s] = rt.Name
		}
		if len(t.Pools) == 0 && !l.inFailed(*attrRange(b, "pools")) {
			l.errorf(attrRange(b, "pools"), "Token allowed no pool", "Token %q lists no pools, so it could never be served.", rt.Name)
		}
		for i, p := range t.Pools {
			if !pools[p] {
				l.errorf(elemRange(b, "pools", i), "Unknown pool", "Token %q names pool %q, which is not declared.%s", rt.Name, p, didYouMean(p, poolNames))
			}
		}
		checkHooks(b, rt.Hooks)
		cfg.Tokens = append(cfg.Tokens, t)
	}

	seenModel := labels{}
	for i, rm := range raw.Models {
		b := loc.top("model", i)
		m := l.buildModel(rm, b)
		if m.Pool != "" && !pools[m.Pool] {
			l.errorf(attrRange(b, "pool"), "Unknown pool", "Model rule %q routes to pool %q, which is not declared.%s", rm.Name, m.Pool, didYouMean(m.Pool, poolNames))
		}
		if !l.unique(seenModel, "model", m.Name, b) {
			continue
		}
		cfg.Models = append(cfg.Models, m)
	}
	l.checkRouting(cfg, loc)
	// An empty or half-written file (an editor that truncates before it
	// writes) must never replace a working config with one that serves
	// nothing, so a config needs at least one pool and one token.
	if len(raw.Pools) == 0 && !l.inFailed(l.syntax.SrcRange) {
		l.errorf(l.fileStart(), "No pool", "The config declares no pool block, so no request could be served; a pool needs an upstream and keys.")
	}
	if len(raw.Tokens) == 0 && !l.inFailed(l.syntax.SrcRange) {
		l.errorf(l.fileStart(), "No token", "The config declares no token block, so every client would be refused; add token \"name\" { secret = ..., pools = [...] }.")
	}

	l.buildStore(raw.Store, loc.top("store", 0), cfg)
	l.buildStatus(raw.Status, loc.top("status", 0), &cfg.Status)
	l.buildMetrics(raw.Metrics, loc.top("metrics", 0), &cfg.Metrics)
	l.checkEndpoints(cfg, loc, secrets, seenToken)
	l.buildOpenAI(raw.OpenAI, loc.top("openai", 0), &cfg.OpenAI)
	l.buildFiles(raw.Files, loc.top("files", 0), &cfg.FilesAPI)
	cfg.ImageHost = l.buildImageHost(raw.ImageHost, loc.top("image_host", 0), loc.top("openai", 0), cfg)
	return cfg
}

func (l *loader) buildServer(rs *rawServer, b *hclsyntax.Block, s *Server) {
	*s = Server{Listen: DefaultListen, MaxRequestBody: DefaultMaxRequestBody, LogLevel: "info", DataDir: filepath.Join(filepath.Dir(l.path), "data")}
	if rs == nil {
		s.MaxBodyMemory = max(DefaultMaxBodyMemory, 4*int64(s.MaxRequestBody))
		s.ReadTimeout, s.IdleTimeout, s.ShutdownGrace = DefaultReadTimeout, DefaultIdleTimeout, DefaultShutdownGrace
		s.StreamIdleTimeout = DefaultStreamIdleTimeout
		return
	}
	if rs.Listen != nil {
		s.Listen = *rs.Listen
		if !strings.Contains(s.Listen, ":") {
			l.errorf(attrRange(b, "listen"), "Invalid listen address", "%q must be host:port, e.g. \"127.0.0.1:8000\" or \":8000\".", s.Listen)
		}
	}
	if rs.MaxRequestBody != nil {
		n := l.size(rs.MaxRequestBody, b, "max_request_body")
		if n < 1024 || n > 1<<31-1 {
			l.errorf(attrRange(b, "max_request_body"), "Invalid max_request_body", "max_request_body must be between 1KiB and 2GiB.")
		}
		s.MaxRequestBody = int(n)
	}
	s.MaxBodyMemory = max(DefaultMaxBodyMemory, 4*int64(s.MaxRequestBody))
	if rs.MaxBodyMemory != nil {
		n := l.size(rs.MaxBodyMemory, b, "max_body_memory")
		if n < int64(s.MaxRequestBody) {
			l.errorf(attrRange(b, "max_body_memory"), "Invalid max_body_memory", "max_body_memory (%d bytes) must be at least max_request_body (%d bytes): a body that may be sent must fit.", n, s.MaxRequestBody)
		}
		s.MaxBodyMemory = n
	}
	s.ReadTimeout = l.duration(rs.ReadTimeout, DefaultReadTimeout, b, "read_timeout")
	s.IdleTimeout = l.duration(rs.IdleTimeout, DefaultIdleTimeout, b, "idle_timeout")
	s.ShutdownGrace = l.duration(rs.ShutdownGrace, DefaultShutdownGrace, b, "shutdown_grace")
	s.StreamIdleTimeout = l.duration(rs.StreamIdleTimeout, DefaultStreamIdleTimeout, b, "stream_idle_timeout")
	if rs.DataDir != nil {
		s.DataDir = l.files.abs(*rs.DataDir)
	}
	if rs.LogLevel != nil {
		s.LogLevel = *rs.LogLevel
		l.oneOf(s.LogLevel, []string{"debug", "info", "warn", "error"}, b, "log_level")
	}
	if rs.LogRequests != nil {
		s.LogRequests = *rs.LogRequests
	}
}

func (l *loader) buildPool(rp *rawPool, b *hclsyntax.Block) *Pool {
	p := &Pool{
		Name: rp.Name, Upstream: rp.Upstream, Strategy: "round_robin", MaxRetries: DefaultMaxRetries,
		RetryOn: append([]verdict.Class(nil), verdict.Retryable...), Hooks: rp.Hooks,
		Blame:    append([]verdict.Class(nil), verdict.DefaultBlame...),
		Cooldown: Cooldown{Base: DefaultCooldown, Max: DefaultCooldownMax, Multiplier: 2},
		Probe:    Probe{Enabled: true, Interval: DefaultProbeInterval, Max: DefaultProbeMax, Model: DefaultProbeModel},
	}
	seen := map[string]bool{}
	add := func(v string, w int) {
		if v == "" || seen[v] {
			return
		}
		seen[v] = true
		p.Keys = append(p.Keys, Key{Value: v, Weight: w})
	}
	for _, k := range rp.Keys {
		add(strings.TrimSpace(k), 1)
	}
	for i, kb := range rp.KeyBlocks {
		w := 1
		if kb.Weight != nil {
			w = *kb.Weight
			if w < 1 || w > 1000 {
				l.errorf(attrRange(locator{}.block(b.Body, "key", i), "weight"), "Invalid weight", "A key weight must be between 1 and 1000.")
			}
		}
		add(strings.TrimSpace(kb.Value), w)
	}
	if rp.KeysFile != nil {
		pattern := DefaultKeysPattern
		if rp.KeysPattern != nil {
			pattern = *rp.KeysPattern
		}
		re, err := regexp.Compile(pattern)
		if err != nil {
			l.fail(attrRange(b, "keys_pattern"), "Invalid keys_pattern", "The regular expression does not compile: %s.", err)
		} else if data, err := l.files.read(*rp.KeysFile); err != nil {
			l.fail(attrRange(b, "keys_file"), "Cannot read keys_file", "Pool %q: cannot read %q: %s.", rp.Name, *rp.KeysFile, unwrapPathError(err))
		} else {
			for _, m := range re.FindAll(data, -1) {
				add(string(m), 1)
			}
		}
	}
	if len(p.Keys) == 0 && !l.blockFailed(b) {
		l.errorf(blockRange(b), "Pool has no keys", "Pool %q has no keys: give it keys, key blocks or a keys_file that contains keys.", rp.Name)
	}
	if rp.Strategy != nil {
		p.Strategy = *rp.Strategy
		l.oneOf(p.Strategy, strategies, b, "strategy")
	}
	if rp.MaxRetries != nil {
		p.MaxRetries = *rp.MaxRetries
		if p.MaxRetries < 0 || p.MaxRetries > 100 {
			l.errorf(attrRange(b, "max_retries"), "Invalid max_retries", "max_retries must be between 0 and 100.")
		}
	}
	if rp.Blame != nil {
		p.Blame = l.classes(rp.Blame, verdict.Blamable, b, "blame")
	}
	if rp.RetryOn != nil {
		p.RetryOn = l.classes(rp.RetryOn, verdict.Retryable, b, "retry_on")
	}
	if c := rp.Cooldown; c != nil {
		cb := locator{}.block(b.Body, "cooldown", 0)
		p.Cooldown.Base = l.duration(c.Base, DefaultCooldown, cb, "base")
		p.Cooldown.Max = l.duration(c.Max, DefaultCooldownMax, cb, "max")
		p.Cooldown.Daily = l.duration(c.Daily, 0, cb, "daily")
		if c.Multiplier != nil {
			p.Cooldown.Multiplier = *c.Multiplier
			if p.Cooldown.Multiplier < 1 || p.Cooldown.Multiplier > 100 {
				l.errorf(attrRange(cb, "multiplier"), "Invalid multiplier", "multiplier must be between 1 and 100.")
			}
		}
		if p.Cooldown.Max < p.Cooldown.Base {
			l.errorf(attrRange(cb, "max"), "Invalid cooldown", "max (%s) is shorter than base (%s).", p.Cooldown.Max, p.Cooldown.Base)
		}
	}
	if pr := rp.Probe; pr != nil {
		pb := locator{}.block(b.Body, "probe", 0)
		if pr.Enabled != nil {
			p.Probe.Enabled = *pr.Enabled
		}
		p.Probe.Interval = l.duration(pr.Interval, DefaultProbeInterval, pb, "interval")
		p.Probe.Max = l.duration(pr.Max, DefaultProbeMax, pb, "max")
		if pr.Model != nil {
			p.Probe.Model = strings.TrimPrefix(*pr.Model, "models/")
		}
	}
	if lim := rp.Limits; lim != nil {
		lb := locator{}.block(b.Body, "limits", 0)
		p.Limits.RPM = l.nonNegative(lim.RPM, lb, "rpm")
		p.Limits.RPD = l.nonNegative(lim.RPD, lb, "rpd")
		p.Limits.TPM = l.nonNegative(lim.TPM, lb, "tpm")
	}
	return p
}

func (l *loader) buildToken(rt *rawToken, b *hclsyntax.Block) *Token {
	t := &Token{Name: rt.Name, Pools: rt.Pools, Models: rt.Models, Labels: rt.Labels, Hooks: rt.Hooks}
	if rt.Secret != nil {
		t.Secrets = append(t.Secrets, *rt.Secret)
	}
	t.Secrets = append(t.Secrets, rt.Secrets...)
	if len(t.Secrets) == 0 && !l.blockFailed(b) {
		l.errorf(blockRange(b), "Token has no secret", "Token %q needs secret = \"...\" or secrets = [...].", rt.Name)
	}
	secretAttr := "secret"
	if rt.Secret == nil {
		secretAttr = "secrets"
	}
	for _, s := range t.Secrets {
		if len(strings.TrimSpace(s)) < 8 {
			l.errorf(attrRange(b, secretAttr), "Weak token secret", "Token %q has a secret shorter than 8 characters; use at least 8 random characters (32 is better).", rt.Name)
		}
	}
	for i, g := range t.Models {
		if _, err := path.Match(g, ""); err != nil {
			l.errorf(elemRange(b, "models", i), "Invalid model pattern", "%q is not a valid glob: %s.", g, err)
		}
	}
	if rt.StreamPacing != nil {
		t.StreamPacing = l.buildStreamPacing(rt.StreamPacing, subBlock(b, "stream_pacing"))
	}
	t.RPM = l.nonNegative(rt.RPM, b, "rpm")
	t.Concurrency = l.nonNegative(rt.Concurrency, b, "concurrency")
	t.LiveSessions = l.nonNegative(rt.LiveSessions, b, "live_sessions")
	t.LiveMaxDuration = l.duration(rt.LiveMaxDuration, 0, b, "live_max_duration")
	if rt.TokensPerDay != nil {
		t.TokensPerDay = *rt.TokensPerDay
		if t.TokensPerDay < 0 {
			l.errorf(attrRange(b, "tokens_per_day"), "Invalid tokens_per_day", "tokens_per_day must not be negative.")
		}
	}
	if rt.Expires != nil {
		ts, err := time.Parse(time.RFC3339, *rt.Expires)
		if err != nil {
			if d, err2 := time.Parse("2006-01-02", *rt.Expires); err2 == nil {
				ts, err = d, nil
			}
		}
		if err != nil {
			l.errorf(attrRange(b, "expires"), "Invalid expires", "%q is not a date (\"2026-12-31\") or RFC 3339 time (\"2026-12-31T23:59:59Z\").", *rt.Expires)
		}
		t.Expires = ts
	}
	return t
}

func (l *loader) buildModel(rm *rawModel, b *hclsyntax.Block) *ModelRule {
	m := &ModelRule{Name: strings.TrimPrefix(rm.Name, "models/")}
	if rm.Target != nil {
		m.Target = strings.TrimPrefix(*rm.Target, "models/")
		if strings.ContainsAny(m.Target, "*?[") {
			l.errorf(attrRange(b, "target"), "Invalid target", "A target must be one model name, not a pattern.")
		}
	}
	if _, err := path.Match(m.Name, ""); err != nil {
		l.errorf(blockRange(b), "Invalid model pattern", "%q is not a valid glob: %s.", m.Name, err)
	}
	if rm.Pool != nil {
		m.Pool = *rm.Pool
	}
	m.Search = deref(rm.Search)
	m.Image = deref(rm.Image)
	m.Hidden = deref(rm.Hidden)
	m.Listed = deref(rm.Listed)
	m.ImagenChat = deref(rm.ImagenChat)
	if rm.ThinkingBudget != nil {
		v := *rm.ThinkingBudget
		if v < -1 {
			l.errorf(attrRange(b, "thinking_budget"), "Invalid thinking_budget", "thinking_budget must be -1 (dynamic), 0 (off) or a positive token count.")
		}
		m.ThinkingBudget = &v
	}
	if rm.IncludeThoughts != nil {
		v := *rm.IncludeThoughts
		m.IncludeThoughts = &v
	}
	m.SafetySettings = l.jsonValue(rm.SafetySettings, b, "safety_settings")
	m.GenerationConfig = l.jsonValue(rm.GenerationConfig, b, "generation_config")
	if m.GenerationConfig != nil && !bytes.HasPrefix(bytes.TrimSpace(m.GenerationConfig), []byte("{")) {
		l.errorf(attrRange(b, "generation_config"), "Invalid generation_config", "generation_config must be an object, e.g. { temperature = 0.7 }.")
	}
	if m.SafetySettings != nil && !bytes.HasPrefix(bytes.TrimSpace(m.SafetySettings), []byte("[")) {
		l.errorf(attrRange(b, "safety_settings"), "Invalid safety_settings", "safety_settings must be a list of { category, threshold } objects.")
	}
	m.CodeExecution = deref(rm.CodeExecution)
	m.URLContext = deref(rm.URLContext)
	m.Variants = []string{}
	for i, v := range rm.Variants {
		if l.oneOfAt(v, variantNames, elemRange(b, "variants", i), "variants") && !slices.Contains(m.Variants, v) {
			m.Variants = append(m.Variants, v)
		}
	}
	if rm.StreamPacing != nil {
		m.StreamPacing = l.buildStreamPacing(rm.StreamPacing, subBlock(b, "stream_pacing"))
	}
	m.attrs = map[string]bool{}
	if b != nil {
		for name := range b.Body.Attributes {
			m.attrs[name] = true
		}
		for _, sub := range b.Body.Blocks {
			m.attrs[sub.Type] = true
		}
	}
	return m
}

var variantNames = []string{VariantSearch, VariantImage, VariantNonThinking}

// buildStreamPacing reads a stream_pacing block (of a model rule or a
// token).
func (l *loader) buildStreamPacing(rp *rawStreamPacing, b *hclsyntax.Block) *StreamPacing {
	p := &StreamPacing{Enabled: true, ChunkChars: DefaultPacingChunkChars}
	if rp.Enabled != nil {
		p.Enabled = *rp.Enabled
	}
	if rp.ChunkChars != nil {
		p.ChunkChars = *rp.ChunkChars
		if p.ChunkChars < 1 || p.ChunkChars > 4096 {
			l.errorf(attrRange(b, "chunk_chars"), "Invalid chunk_chars", "chunk_chars must be between 1 and 4096.")
		}
	}
	p.Interval = l.duration(rp.Interval, DefaultPacingInterval, b, "interval")
	if p.Interval < time.Millisecond || p.Interval > time.Second {
		l.errorf(attrRange(b, "interval"), "Invalid interval", "interval must be between 1ms and 1s.")
	}
	p.MaxDelay = l.duration(rp.MaxDelay, DefaultPacingMaxDelay, b, "max_delay")
	if p.MaxDelay > time.Minute {
		l.errorf(attrRange(b, "max_delay"), "Invalid max_delay", "max_delay must be at most 1m: a client waits that long at most for the end of its answer.")
	}
	return p
}

func (l *loader) buildHook(rh *rawHook, b *hclsyntax.Block) *Hook {
	errsBefore := len(l.diags.Errs())
	h := &Hook{
		Name: rh.Name, Module: l.files.abs(rh.Module), Phases: rh.Phases, Routes: rh.Routes, Models: rh.Models, Tokens: rh.Tokens,
		// The hook defaults are the hooks package's: one source of truth.
		MaxInstances: hooks.DefaultMaxInstances, MemoryBytes: hooks.DefaultMemoryLimit, Fail: string(hooks.FailClosed),
	}
	// The module is read here so a missing or wrong file is a config
	// error with a line number, its bytes count in the config hash (a
	// rebuilt hook reloads), and the watcher watches it.
	if data, err := l.files.read(rh.Module); err != nil {
		l.errorf(attrRange(b, "module"), "Cannot read hook module", "Hook %q: cannot read %q: %s.", rh.Name, rh.Module, unwrapPathError(err))
	} else if !bytes.HasPrefix(data, []byte("\x00asm")) {
		l.errorf(attrRange(b, "module"), "Not a WebAssembly module", "Hook %q: %q does not start with the WebAssembly magic bytes; build it with GOOS=wasip1 GOARCH=wasm -buildmode=c-shared.", rh.Name, rh.Module)
	}
	if len(h.Phases) == 0 {
		h.Phases = []string{"request"}
	}
	for i, ph := range h.Phases {
		l.oneOfAt(ph, hookPhases, elemRange(b, "phases", i), "phases")
	}
	for i, r := range h.Routes {
		if err := hooks.ValidRoute(r); err != nil {
			l.errorf(elemRange(b, "routes", i), "Invalid route pattern", "%s.", err)
		}
	}
	for _, attr := range []string{"models", "tokens"} {
		list := h.Models
		if attr == "tokens" {
			list = h.Tokens
		}
		for i, g := range list {
			if _, err := path.Match(g, ""); err != nil {
				l.errorf(elemRange(b, attr, i), "Invalid pattern", "%q is not a valid glob: %s.", g, err)
			}
		}
	}
	h.Timeout = l.duration(rh.Timeout, hooks.DefaultTimeout, b, "timeout")
	if rh.MaxInstances != nil {
		h.MaxInstances = *rh.MaxInstances
		if h.MaxInstances < 1 || h.MaxInstances > 1024 {
			l.errorf(attrRange(b, "max_instances"), "Invalid max_instances", "max_instances must be between 1 and 1024.")
		}
	}
	if rh.Memory != nil {
		n := l.size(rh.Memory, b, "memory")
		if n < 4<<20 || n > 4<<30 {
			l.errorf(attrRange(b, "memory"), "Invalid memory", "memory must be between 4MiB and 4GiB (a Go guest needs about 4MiB to start).")
		}
		h.MemoryBytes = uint64(n)
	}
	if rh.Fail != nil {
		h.Fail = *rh.Fail
		l.oneOf(h.Fail, []string{"open", "closed"}, b, "fail")
	}
	h.Config = l.jsonValue(rh.Config, b, "config")
	if h.Config == nil {
		h.Config = json.RawMessage("{}")
	}
	if l.opts.CheckHook != nil && len(l.diags.Errs()) == errsBefore {
		if err := l.opts.CheckHook(h); err != nil {
			l.errorf(attrRange(b, "module"), "Hook module refused", "%s.", strings.TrimSuffix(err.Error(), "."))
		}
	}
	return h
}

func (l *loader) buildStore(rs *rawStore, b *hclsyntax.Block, cfg *Config) {
	s := &cfg.Store
	*s = Store{
		Driver: "sqlite", DSN: filepath.Join(cfg.Server.DataDir, "balance.db"), MaxBodyBytes: 64 << 10,
		RetainRequests: 7 * 24 * time.Hour, RetainErrors: 30 * 24 * time.Hour, RetainRollups: 90 * 24 * time.Hour,
		KeyStateRefresh: 2 * time.Second,
	}
	if rs == nil {
		return
	}
	if rs.Driver != nil {
		s.Driver = *rs.Driver
		l.oneOf(s.Driver, []string{"sqlite", "mysql", "none"}, b, "driver")
	}
	switch {
	case rs.DSN != nil:
		s.DSN = *rs.DSN
	case rs.Path != nil:
		s.DSN = l.files.abs(*rs.Path)
	case s.Driver == "mysql":
		l.errorf(blockRange(b), "Missing dsn", "The mysql driver needs dsn = \"user:pass@tcp(host:3306)/db\" (usually env(\"BALANCE_MYSQL_DSN\")).")
	}
	s.Required = deref(rs.Required)
	s.RecordRequests = deref(rs.RecordRequests)
	if rs.MaxBody != nil {
		s.MaxBodyBytes = int(l.size(rs.MaxBody, b, "max_body"))
	}
	s.RetainRequests = l.duration(rs.RetainRequests, s.RetainRequests, b, "retain_requests")
	s.RetainErrors = l.duration(rs.RetainErrors, s.RetainErrors, b, "retain_errors")
	s.RetainRollups = l.duration(rs.RetainRollups, s.RetainRollups, b, "retain_rollups")
	s.ShareKeyState = s.Driver == "mysql"
	if rs.ShareKeyState != nil {
		s.ShareKeyState = *rs.ShareKeyState
	}
	s.KeyStateRefresh = l.duration(rs.KeyStateRefresh, s.KeyStateRefresh, b, "key_state_refresh")
}

// DefaultMaxUpload is Google's own limit on one file.
const DefaultMaxUpload = 2 << 30

func (l *loader) buildFiles(rf *rawFiles, b *hclsyntax.Block, f *FilesAPI) {
	*f = FilesAPI{MaxUpload: DefaultMaxUpload}
	if rf == nil || rf.MaxUpload == nil {
		return
	}
	f.MaxUpload = l.size(rf.MaxUpload, b, "max_upload")
	if f.MaxUpload <= 0 && !l.blockFailed(b) {
		l.errorf(attrRange(b, "max_upload"), "Invalid size", "max_upload must be above zero.")
	}
}

func (l *loader) buildStatus(rs *rawStatus, b *hclsyntax.Block, s *Status) {
	if rs == nil {
		return
	}
	s.Path = "/status"
	if rs.Path != nil {
		s.Path = "/" + strings.Trim(*rs.Path, "/")
	}
	switch {
	case rs.Token != nil && len(*rs.Token) >= 8:
		s.Token = *rs.Token
	case !l.blockFailed(b):
		l.errorf(blockRange(b), "Status needs a token", "The status block needs token = \"...\" of at least 8 characters; status shows key fingerprints and stats.")
	}
	l.reservedPath(s.Path, b, "path")
}

func (l *loader) buildMetrics(rm *rawMetrics, b *hclsyntax.Block, m *Metrics) {
	if rm == nil {
		return
	}
	m.Enabled, m.Path = true, "/metrics"
	if rm.Enabled != nil {
		m.Enabled = *rm.Enabled
	}
	if rm.Path != nil {
		m.Path = "/" + strings.Trim(*rm.Path, "/")
	}
	if rm.Token != nil {
		m.Token = *rm.Token
	}
	l.reservedPath(m.Path, b, "path")
}

func (l *loader) buildOpenAI(ro *rawOpenAI, b *hclsyntax.Block, o *OpenAI) {
	*o = OpenAI{
		Suffixes:    Suffixes{Search: "-search", Image: "-image", NonThinking: "-non-thinking"},
		ImageOutput: "markdown", SearchLinks: true, MaxN: 8,
		ImageFetch:        ImageFetch{Enabled: true, Timeout: 10 * time.Second, MaxBytes: 20 << 20},
		ResponseRetention: 30 * 24 * time.Hour,
		SpeechModel:       DefaultSpeechModel,
	}
	if ro == nil {
		return
	}
	if ro.SearchSuffix != nil {
		o.Suffixes.Search = *ro.SearchSuffix
	}
	if ro.ImageSuffix != nil {
		o.Suffixes.Image = *ro.ImageSuffix
	}
	if ro.NonThinkingSuffix != nil {
		o.Suffixes.NonThinking = *ro.NonThinkingSuffix
	}
	o.ShowThinking = deref(ro.ShowThinking)
	if ro.ImageOutput != nil {
		o.ImageOutput = *ro.ImageOutput
		l.oneOf(o.ImageOutput, []string{"markdown", "data_url", "url"}, b, "image_output")
	}
	if ro.SearchLinks != nil {
		o.SearchLinks = *ro.SearchLinks
	}
	o.KeepAlive = l.duration(ro.KeepAlive, 0, b, "keep_alive")
	o.ResponseRetention = l.duration(ro.ResponseRetention, o.ResponseRetention, b, "response_retention")
	if ro.MaxN != nil {
		o.MaxN = *ro.MaxN
		if o.MaxN < 1 || o.MaxN > 64 {
			l.errorf(attrRange(b, "max_n"), "Invalid max_n", "max_n must be between 1 and 64.")
		}
	}
	if ro.ImageModel != nil {
		o.ImageModel = strings.TrimPrefix(*ro.ImageModel, "models/")
	}
	if ro.SpeechModel != nil {
		o.SpeechModel = strings.TrimPrefix(*ro.SpeechModel, "models/")
		if o.SpeechModel == "" {
			l.errorf(attrRange(b, "speech_model"), "Invalid speech_model", "speech_model must name a Gemini TTS model, e.g. %q.", DefaultSpeechModel)
		}
	}
	if f := ro.ImageFetch; f != nil {
		fb := locator{}.block(b.Body, "image_fetch", 0)
		if f.Enabled != nil {
			o.ImageFetch.Enabled = *f.Enabled
		}
		o.ImageFetch.Timeout = l.duration(f.Timeout, o.ImageFetch.Timeout, fb, "timeout")
		if f.MaxBytes != nil {
			o.ImageFetch.MaxBytes = int(l.size(f.MaxBytes, fb, "max_bytes"))
		}
	}
}

// checkEndpoints keeps status and metrics apart from the clients and from
// each other: neither token may be a client token's secret (a client could
// read them, and a leaked operator token would pass as that client), and
// neither path may be or lie under the other (the router answers the
// metrics path first and status for everything under its own path).
func (l *loader) checkEndpoints(cfg *Config, loc locator, secrets map[string]string, tokens labels) {
	sb, mb := loc.top("status", 0), loc.top("metrics", 0)
	for _, op := range []struct {
		name, token string
		b           *hclsyntax.Block
	}{{"status", cfg.Status.Token, sb}, {"metrics", cfg.Metrics.Token, mb}} {
		client, shared := secrets[op.token]
		if op.token == "" || !shared {
			continue
		}
		l.errorf(attrRange(op.b, "token"), "Operator token is a client token",
			"The %s token is also a secret of token %q (declared at %s): that client could read %s, and a leaked %s token would pass as the client. Give %s a secret of its own.",
			op.name, client, at(tokens[client]), op.name, op.name, op.name)
	}

	sp, mp := cfg.Status.Path, cfg.Metrics.Path
	if sp == "" || !cfg.Metrics.Enabled || mp == "" || sb == nil || mb == nil {
		return
	}
	// Point at the path that was written; with both written, at metrics.
	subject, other := attrRange(mb, "path"), attrRange(sb, "path")
	if _, set := mb.Body.Attributes["path"]; !set {
		if _, set := sb.Body.Attributes["path"]; set {
			subject, other = other, subject
		}
	}
	free := func(want, alt, taken string) string {
		if want == taken || strings.HasPrefix(want, taken+"/") || strings.HasPrefix(taken, want+"/") {
			return alt
		}
		return want
	}
	switch {
	case sp == mp:
		l.errorf(subject, "Metrics path shadows the status path",
			"status and metrics both use %q (the other is set at %s); the metrics endpoint would answer instead of status. Give metrics its own path such as %q.",
			mp, at(other), free("/metrics", "/prometheus", sp))
	case strings.HasPrefix(mp, sp+"/"):
		l.errorf(subject, "Metrics path shadows the status path",
			"The metrics path %q lies under the status path %q (the other is set at %s), where status serves its page and API (%s/ui, %s/api/…). Move metrics outside it, e.g. %q.",
			mp, sp, at(other), sp, sp, free("/metrics", "/prometheus", sp))
	case strings.HasPrefix(sp, mp+"/"):
		l.errorf(subject, "Status path lies under the metrics path",
			"The status path %q lies under the metrics path %q (the other is set at %s); keep them apart, e.g. status at %q.",
			sp, mp, at(other), free("/status", "/balance-status", mp))
	}
}

// reservedPath rejects status and metrics paths that would shadow the
// API routes.
func (l *loader) reservedPath(p string, b *hclsyntax.Block, attr string) {
	for _, r := range []string{"/v1", "/v1beta", "/gemini", "/hf", "/openai", "/health", "/upload", "/download", ImagesPath} {
		if p == r || strings.HasPrefix(p, r+"/") || p == "/" {
			l.errorf(attrRange(b, attr), "Path shadows an API route", "%q overlaps the API route %q; pick another path such as \"/status\".", p, r)
			return
		}
	}
}

func (l *loader) proxyURLs(urls []string, b *hclsyntax.Block, attr string) []string {
	var out []string
	for i, raw := range urls {
		rng := elemRange(b, attr, i)
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			l.errorf(rng, "Invalid proxy URL", "%q is not a URL like \"http://user:pass@host:3128\" or \"socks5://host:1080\".", raw)
			continue
		}
		switch u.Scheme {
		case "http", "socks5", "socks5h":
		default:
			l.errorf(rng, "Unsupported proxy scheme", "%q: the scheme must be http, socks5 or socks5h.", raw)
			continue
		}
		out = append(out, raw)
	}
	return out
}

func (l *loader) duration(v *string, def time.Duration, b *hclsyntax.Block, attr string) time.Duration {
	if v == nil {
		return def
	}
	d, err := parseDuration(*v)
	if err != nil {
		l.errorf(attrRange(b, attr), "Invalid duration", "%s: %s.", attr, err)
		return def
	}
	if d < 0 {
		l.errorf(attrRange(b, attr), "Negative duration", "%s must not be negative.", attr)
		return def
	}
	return d
}

func (l *loader) size(v *string, b *hclsyntax.Block, attr string) int64 {
	n, err := parseSize(*v)
	if err != nil {
		l.errorf(attrRange(b, attr), "Invalid size", "%s: %s.", attr, err)
	}
	return n
}

func (l *loader) nonNegative(v *int, b *hclsyntax.Block, attr string) int {
	if v == nil {
		return 0
	}
	if *v < 0 {
		l.errorf(attrRange(b, attr), "Invalid "+attr, "%s must not be negative (0 means no limit).", attr)
		return 0
	}
	return *v
}

func (l *loader) oneOf(v string, allowed []string, b *hclsyntax.Block, attr string) {
	l.oneOfAt(v, allowed, attrRange(b, attr), attr)
}

// oneOfAt is oneOf for a value at a given range (a list element).
func (l *loader) oneOfAt(v string, allowed []string, rng *hclv2.Range, attr string) bool {
	if slices.Contains(allowed, v) {
		return true
	}
	l.errorf(rng, "Invalid "+attr, "%q is not one of %s.%s", v, strings.Join(quoteAll(allowed), ", "), didYouMean(v, allowed))
	return false
}

// classes reads a list of error class names, each of which must be one of
// allowed.
func (l *loader) classes(names []string, allowed []verdict.Class, b *hclsyntax.Block, attr string) []verdict.Class {
	allowedNames := make([]string, len(allowed))
	for i, c := range allowed {
		allowedNames[i] = c.String()
	}
	out := make([]verdict.Class, 0, len(names))
	for i, name := range names {
		if !l.oneOfAt(name, allowedNames, elemRange(b, attr, i), attr) {
			continue
		}
		c, _ := verdict.Parse(name) // every allowed name parses
		out = append(out, c)
	}
	return out
}

func (l *loader) jsonValue(v *cty.Value, b *hclsyntax.Block, attr string) json.RawMessage {
	if v == nil || v.IsNull() {
		return nil
	}
	if !v.IsWhollyKnown() {
		l.errorf(attrRange(b, attr), "Unknown value", "%s could not be evaluated.", attr)
		return nil
	}
	out, err := ctyjson.Marshal(*v, v.Type())
	if err != nil {
		l.errorf(attrRange(b, attr), "Invalid value", "%s cannot be expressed as JSON: %s.", attr, err)
		return nil
	}
	return out
}

func deref(b *bool) bool { return b != nil && *b }

func keysOf(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func quoteAll(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = `"` + s + `"`
	}
	return out
}

// labels remembers where each block label was first declared.
type labels map[string]*hclv2.Range

// unique records name as declared by b and reports whether it is new. A
// repeat is an error that points back at the first declaration.
func (l *loader) unique(seen labels, kind, name string, b *hclsyntax.Block) bool {
	if first, dup := seen[name]; dup {
		l.errorf(blockRange(b), "Duplicate "+kind+" block", "%s named %q was already declared at %s; labels must be unique.", article(kind), name, at(first))
		return false
	}
	seen[name] = blockRange(b)
	return true
}

// knownModels are model names Google serves today. A token's model
// pattern that matches neither these nor a model rule is probably a typo,
// but Google adds models all the time, so it is only a warning.
var knownModels = []string{
	"gemini-2.0-flash", "gemini-2.0-flash-lite", "gemini-2.5-flash", "gemini-2.5-flash-lite",
	"gemini-2.5-pro", "gemini-2.5-flash-image", "gemini-3-pro-preview", "gemini-3-flash-preview",
	"gemini-3-pro-image-preview", "gemini-embedding-001", "text-embedding-004", "imagen-4.0-generate-001",
	"gemini-2.5-flash-preview-tts", "gemini-2.5-pro-preview-tts", "gemma-3-27b-it",
}

// checkRouting warns about token model patterns that match no model rule
// or known model, and about model rules whose pool no token allowed to
// use the model may reach (such requests would be refused).
func (l *loader) checkRouting(cfg *Config, loc locator) {
	names := append([]string(nil), knownModels...)
	for _, m := range cfg.Models {
		names = append(names, m.Name)
	}
	matches := func(pattern, name string) bool {
		ok, _ := path.Match(pattern, name)
		if !ok && strings.ContainsAny(name, "*?[") {
			// Two patterns: assume they can overlap when either matches
			// the other's literal prefix.
			prefix := name[:strings.IndexAny(name, "*?[")]
			ok, _ = path.Match(pattern, prefix)
			ok = ok || strings.HasPrefix(pattern, prefix) || strings.HasPrefix(prefix, strings.TrimRight(pattern, "*"))
		}
		return ok
	}
	for _, t := range cfg.Tokens {
		b := loc.labeled("token", t.Name)
		for _, g := range t.Models {
			if _, err := path.Match(g, ""); err != nil {
				continue // already an error
			}
			found := false
			for _, n := range names {
				if matches(g, n) {
					found = true
					break
				}
			}
			if !found {
				l.warnf(elemRange(b, "models", slices.Index(t.Models, g)), "Model pattern matches nothing known", "Token %q allows %q, which matches no model rule and no model balance knows of; check the spelling (Google may have a model balance does not know, so this is only a warning).", t.Name, g)
			}
		}
	}
	for _, m := range cfg.Models {
		if m.Pool == "" || cfg.Pool(m.Pool) == nil {
			continue
		}
		reachable := false
		for _, t := range cfg.Tokens {
			if !slices.Contains(t.Pools, m.Pool) {
				continue
			}
			if len(t.Models) == 0 {
				reachable = true
			}
			for _, g := range t.Models {
				if matches(g, m.Name) {
					reachable = true
				}
			}
		}
		if !reachable && len(cfg.Tokens) > 0 {
			l.warnf(attrRange(loc.labeled("model", m.Name), "pool"), "Model routed to an unreachable pool", "Model rule %q routes to pool %q, but no token that may use this model lists that pool, so its requests would be refused.", m.Name, m.Pool)
		}
	}
}

// article prefixes a noun with "A" or "An".
func article(noun string) string {
	if strings.ContainsRune("aeiou", rune(noun[0])) {
		return "An " + noun
	}
	return "A " + noun
}

// fileStart is an empty range at the start of the file, for problems of
// the file as a whole.
func (l *loader) fileStart() *hclv2.Range {
	r := l.syntax.SrcRange
	r.End = r.Start
	return &r
}

// validHeaderName reports whether name is an HTTP field name (RFC 9110
// token characters).
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// hopOrCredential reports whether an upstream header would fight with
// what balance sets per request: the key, the host and the framing.
func hopOrCredential(name string) bool {
	switch strings.ToLower(name) {
	case "x-goog-api-key", "authorization", "host", "content-length", "transfer-encoding", "connection", "content-type":
		return true
	}
	return false
}
