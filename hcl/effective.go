package hcl

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
	"time"

	"github.com/balanceproxy/balance/internal/secret"
	"github.com/balanceproxy/balance/internal/verdict"
)

// Effective is the config as balance will run it, with every default
// filled in and every secret masked: API keys, token secrets and status
// or metrics tokens become fingerprints, proxy and DSN passwords become
// "xxxxx". It is what `balance config` prints, for debugging and for
// diffing two versions of a config in review. Field names follow the HCL
// attribute names.
type Effective struct {
	Path      string        `json:"path"`
	Hash      string        `json:"hash"`
	Files     []string      `json:"files"`
	Warnings  []string      `json:"warnings,omitempty"`
	Server    effServer     `json:"server"`
	Upstreams []effUpstream `json:"upstreams"`
	Proxies   []effProxy    `json:"proxies"`
	Pools     []effPool     `json:"pools"`
	Tokens    []effToken    `json:"tokens"`
	Models    []effModel    `json:"models"`
	Hooks     []effHook     `json:"hooks"`
	Store     effStore      `json:"store"`
	Status    effStatus     `json:"status"`
	Metrics   effMetrics    `json:"metrics"`
	// FilesAPI is the files block; "files" above is already the list of
	// files the config was read from.
	FilesAPI  effFilesAPI    `json:"files_api"`
	OpenAI    effOpenAI      `json:"openai"`
	ImageHost *effImageHost  `json:"image_host,omitempty"`
	Totals    map[string]int `json:"totals"`
}

// effImageHost is ImageHost with its credentials as fingerprints.
type effImageHost struct {
	Kind      string `json:"kind"`
	PublicURL string `json:"public_url,omitempty"`
	Dir       string `json:"dir,omitempty"`
	Retain    string `json:"retain,omitempty"`
	Endpoint  string `json:"endpoint,omitempty"`
	Region    string `json:"region,omitempty"`
	Bucket    string `json:"bucket,omitempty"`
	AccessKey string `json:"access_key,omitempty"`
	SecretKey string `json:"secret_key,omitempty"`
	UploadURL string `json:"upload_url,omitempty"`
	APIKey    string `json:"api_key,omitempty"`
	Timeout   string `json:"timeout"`
}

type effServer struct {
	Listen            string `json:"listen"`
	MaxRequestBody    int    `json:"max_request_body"`
	MaxBodyMemory     int64  `json:"max_body_memory"`
	ReadTimeout       string `json:"read_timeout"`
	IdleTimeout       string `json:"idle_timeout"`
	ShutdownGrace     string `json:"shutdown_grace"`
	StreamIdleTimeout string `json:"stream_idle_timeout"`
	DataDir           string `json:"data_dir"`
	LogLevel          string `json:"log_level"`
	LogRequests       bool   `json:"log_requests"`
}

type effUpstream struct {
	Name            string            `json:"name"`
	BaseURL         string            `json:"base_url"`
	Timeout         string            `json:"timeout"`
	Headers         map[string]string `json:"headers,omitempty"`
	Proxies         []string          `json:"proxies,omitempty"`
	MaxConns        int               `json:"max_conns"`
	MaxResponseBody int               `json:"max_response_body"`
	Kind            string            `json:"kind"`
}

type effProxy struct {
	Name string   `json:"name"`
	URLs []string `json:"urls"`
}

type effKey struct {
	Fingerprint string `json:"fingerprint"`
	Weight      int    `json:"weight"`
}

type effPool struct {
	Name       string          `json:"name"`
	Upstream   string          `json:"upstream"`
	Keys       []effKey        `json:"keys"`
	Strategy   string          `json:"strategy"`
	MaxRetries int             `json:"max_retries"`
	Proxies    []string        `json:"proxies,omitempty"`
	RetryOn    []verdict.Class `json:"retry_on"`
	Blame      []verdict.Class `json:"blame"`
	Hooks      []string        `json:"hooks,omitempty"`
	Fallback   []string        `json:"fallback,omitempty"`
	Cooldown   struct {
		Base       string  `json:"base"`
		Max        string  `json:"max"`
		Multiplier float64 `json:"multiplier"`
		Daily      string  `json:"daily"`
	} `json:"cooldown"`
	Probe struct {
		Enabled  bool   `json:"enabled"`
		Interval string `json:"interval"`
		Max      string `json:"max"`
		Model    string `json:"model"`
	} `json:"probe"`
	Limits KeyLimitsJSON `json:"limits"`
}

// KeyLimitsJSON is KeyLimits with JSON names.
type KeyLimitsJSON struct {
	RPM int `json:"rpm"`
	RPD int `json:"rpd"`
	TPM int `json:"tpm"`
}

type effToken struct {
	Name         string            `json:"name"`
	Secrets      []string          `json:"secrets"`
	Pools        []string          `json:"pools"`
	Models       []string          `json:"models,omitempty"`
	RPM          int               `json:"rpm"`
	Concurrency  int               `json:"concurrency"`
	TokensPerDay int64             `json:"tokens_per_day"`
	Expires      string            `json:"expires,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	Hooks        []string          `json:"hooks,omitempty"`
	StreamPacing *effPacing        `json:"stream_pacing,omitempty"`

	LiveSessions    int    `json:"live_sessions,omitempty"`
	LiveMaxDuration string `json:"live_max_duration,omitempty"`
}

type effModel struct {
	Name             string          `json:"name"`
	Target           string          `json:"target,omitempty"`
	Pool             string          `json:"pool,omitempty"`
	Search           bool            `json:"search,omitempty"`
	Image            bool            `json:"image,omitempty"`
	ThinkingBudget   *int            `json:"thinking_budget,omitempty"`
	IncludeThoughts  *bool           `json:"include_thoughts,omitempty"`
	SafetySettings   json.RawMessage `json:"safety_settings,omitempty"`
	GenerationConfig json.RawMessage `json:"generation_config,omitempty"`
	Hidden           bool            `json:"hidden,omitempty"`
	Listed           bool            `json:"listed,omitempty"`
	CodeExecution    bool            `json:"code_execution,omitempty"`
	URLContext       bool            `json:"url_context,omitempty"`
	Variants         *[]string       `json:"variants,omitempty"`
	StreamPacing     *effPacing      `json:"stream_pacing,omitempty"`
	ImagenChat       bool            `json:"imagen_chat,omitempty"`
}

type effPacing struct {
	Enabled    bool   `json:"enabled"`
	ChunkChars int    `json:"chunk_chars"`
	Interval   string `json:"interval"`
	MaxDelay   string `json:"max_delay"`
}

func pacingOf(p *StreamPacing) *effPacing {
	if p == nil {
		return nil
	}
	return &effPacing{Enabled: p.Enabled, ChunkChars: p.ChunkChars, Interval: dur(p.Interval), MaxDelay: dur(p.MaxDelay)}
}

func modelOf(m *ModelRule) effModel {
	e := effModel{Name: m.Name, Target: m.Target, Pool: m.Pool, Search: m.Search, Image: m.Image,
		ThinkingBudget: m.ThinkingBudget, IncludeThoughts: m.IncludeThoughts, SafetySettings: m.SafetySettings,
		GenerationConfig: m.GenerationConfig, Hidden: m.Hidden, Listed: m.Listed, CodeExecution: m.CodeExecution,
		URLContext: m.URLContext, StreamPacing: pacingOf(m.StreamPacing), ImagenChat: m.ImagenChat}
	if m.Sets("variants") {
		v := append([]string{}, m.Variants...)
		e.Variants = &v
	}
	return e
}

type effHook struct {
	Name         string          `json:"name"`
	Module       string          `json:"module"`
	Phases       []string        `json:"phases"`
	Routes       []string        `json:"routes,omitempty"`
	Models       []string        `json:"models,omitempty"`
	Tokens       []string        `json:"tokens,omitempty"`
	Timeout      string          `json:"timeout"`
	MaxInstances int             `json:"max_instances"`
	Memory       uint64          `json:"memory"`
	Fail         string          `json:"fail"`
	Config       json.RawMessage `json:"config"`
}

type effStore struct {
	Driver              string `json:"driver"`
	DSN                 string `json:"dsn,omitempty"`
	Required            bool   `json:"required"`
	RecordRequestBodies bool   `json:"record_request_bodies"`
	MaxBody             int    `json:"max_body"`
	RetainRequests      string `json:"retain_requests"`
	RetainErrors        string `json:"retain_errors"`
	RetainRollups       string `json:"retain_rollups"`
	ShareKeyState       bool   `json:"share_key_state"`
	KeyStateRefresh     string `json:"key_state_refresh"`
}

type effStatus struct {
	Enabled bool   `json:"enabled"`
	Path    string `json:"path,omitempty"`
	Token   string `json:"token,omitempty"`
}

// effFilesAPI is the files block with its defaults.
type effFilesAPI struct {
	MaxUpload int64 `json:"max_upload"`
}

type effMetrics struct {
	Enabled bool   `json:"enabled"`
	Path    string `json:"path,omitempty"`
	Token   string `json:"token,omitempty"`
}

type effOpenAI struct {
	SearchSuffix      string `json:"search_suffix"`
	ImageSuffix       string `json:"image_suffix"`
	NonThinkingSuffix string `json:"non_thinking_suffix"`
	ShowThinking      bool   `json:"show_thinking"`
	ImageOutput       string `json:"image_output"`
	SearchLinks       bool   `json:"search_links"`
	KeepAlive         string `json:"keep_alive"`
	MaxN              int    `json:"max_n"`
	ResponseRetention string `json:"response_retention"`
	ImageModel        string `json:"image_model"`
	SpeechModel       string `json:"speech_model"`
	ImageFetch        struct {
		Enabled  bool   `json:"enabled"`
		Timeout  string `json:"timeout"`
		MaxBytes int    `json:"max_bytes"`
	} `json:"image_fetch"`
}

// Effective returns the masked effective view of c.
func (c *Config) Effective() *Effective {
	e := &Effective{
		Path: c.Path, Hash: c.Hash, Files: c.Files, Warnings: c.Warnings,
		Upstreams: []effUpstream{}, Proxies: []effProxy{}, Pools: []effPool{}, Tokens: []effToken{},
		Models: []effModel{}, Hooks: []effHook{}, Totals: map[string]int{},
	}
	s := c.Server
	e.Server = effServer{
		Listen: s.Listen, MaxRequestBody: s.MaxRequestBody, MaxBodyMemory: s.MaxBodyMemory, ReadTimeout: dur(s.ReadTimeout), IdleTimeout: dur(s.IdleTimeout),
		ShutdownGrace: dur(s.ShutdownGrace), StreamIdleTimeout: dur(s.StreamIdleTimeout), DataDir: s.DataDir,
		LogLevel: s.LogLevel, LogRequests: s.LogRequests,
	}
	for _, u := range c.Upstreams {
		eu := effUpstream{Name: u.Name, BaseURL: u.BaseURL, Timeout: dur(u.Timeout), Proxies: maskURLs(u.Proxies), MaxConns: u.MaxConns, MaxResponseBody: u.MaxResponseBody, Kind: u.Kind}
		if len(u.Headers) > 0 {
			eu.Headers = map[string]string{}
			for k, v := range u.Headers {
				eu.Headers[k] = maskHeader(k, v)
			}
		}
		e.Upstreams = append(e.Upstreams, eu)
	}
	for _, g := range c.Proxies {
		e.Proxies = append(e.Proxies, effProxy{Name: g.Name, URLs: maskURLs(g.URLs)})
	}
	keys := 0
	// Keys are named as the running proxy names them in status and stats.
	keyNames := secret.NewKeyNames()
	for _, p := range c.Pools {
		ep := effPool{Name: p.Name, Upstream: p.Upstream, Keys: []effKey{}, Strategy: p.Strategy, MaxRetries: p.MaxRetries,
			Proxies: maskURLs(p.Proxies), RetryOn: p.RetryOn, Blame: p.Blame, Hooks: p.Hooks, Fallback: p.Fallback, Limits: KeyLimitsJSON(p.Limits)}
		for _, k := range p.Keys {
			ep.Keys = append(ep.Keys, effKey{Fingerprint: keyNames.Name(k.Value), Weight: k.Weight})
		}
		keys += len(p.Keys)
		ep.Cooldown.Base, ep.Cooldown.Max, ep.Cooldown.Daily = dur(p.Cooldown.Base), dur(p.Cooldown.Max), dur(p.Cooldown.Daily)
		ep.Cooldown.Multiplier = p.Cooldown.Multiplier
		ep.Probe.Enabled, ep.Probe.Interval, ep.Probe.Max, ep.Probe.Model = p.Probe.Enabled, dur(p.Probe.Interval), dur(p.Probe.Max), p.Probe.Model
		e.Pools = append(e.Pools, ep)
	}
	for _, t := range c.Tokens {
		et := effToken{Name: t.Name, Secrets: []string{}, Pools: t.Pools, Models: t.Models, RPM: t.RPM, Concurrency: t.Concurrency,
			TokensPerDay: t.TokensPerDay, Labels: t.Labels, Hooks: t.Hooks, StreamPacing: pacingOf(t.StreamPacing), LiveSessions: t.LiveSessions}
		if t.LiveMaxDuration > 0 {
			et.LiveMaxDuration = dur(t.LiveMaxDuration)
		}
		for _, s := range t.Secrets {
			et.Secrets = append(et.Secrets, secret.Fingerprint(s))
		}
		if !t.Expires.IsZero() {
			et.Expires = t.Expires.UTC().Format(time.RFC3339)
		}
		e.Tokens = append(e.Tokens, et)
	}
	for _, m := range c.Models {
		e.Models = append(e.Models, modelOf(m))
	}
	for _, h := range c.Hooks {
		e.Hooks = append(e.Hooks, effHook{Name: h.Name, Module: h.Module, Phases: h.Phases, Routes: h.Routes, Models: h.Models,
			Tokens: h.Tokens, Timeout: dur(h.Timeout), MaxInstances: h.MaxInstances, Memory: h.MemoryBytes, Fail: h.Fail,
			Config: maskJSON(h.Config)})
	}
	st := c.Store
	e.Store = effStore{Driver: st.Driver, DSN: MaskDSN(st.DSN), Required: st.Required, RecordRequestBodies: st.RecordRequests,
		MaxBody: st.MaxBodyBytes, RetainRequests: dur(st.RetainRequests), RetainErrors: dur(st.RetainErrors),
		RetainRollups: dur(st.RetainRollups), ShareKeyState: st.ShareKeyState, KeyStateRefresh: dur(st.KeyStateRefresh)}
	e.Status = effStatus{Enabled: c.Status.Path != "", Path: c.Status.Path, Token: fingerprintOrEmpty(c.Status.Token)}
	e.Metrics = effMetrics{Enabled: c.Metrics.Enabled, Path: c.Metrics.Path, Token: fingerprintOrEmpty(c.Metrics.Token)}
	e.FilesAPI = effFilesAPI{MaxUpload: c.FilesAPI.MaxUpload}
	o := c.OpenAI
	e.OpenAI = effOpenAI{SearchSuffix: o.Suffixes.Search, ImageSuffix: o.Suffixes.Image, NonThinkingSuffix: o.Suffixes.NonThinking,
		ShowThinking: o.ShowThinking, ImageOutput: o.ImageOutput, SearchLinks: o.SearchLinks, KeepAlive: dur(o.KeepAlive), MaxN: o.MaxN,
		ResponseRetention: dur(o.ResponseRetention), ImageModel: o.ImageModel, SpeechModel: o.SpeechModel}
	e.OpenAI.ImageFetch.Enabled, e.OpenAI.ImageFetch.Timeout, e.OpenAI.ImageFetch.MaxBytes = o.ImageFetch.Enabled, dur(o.ImageFetch.Timeout), o.ImageFetch.MaxBytes
	if h := c.ImageHost; h != nil {
		e.ImageHost = &effImageHost{Kind: h.Kind, PublicURL: h.PublicURL, Dir: h.Dir, Endpoint: h.Endpoint, Region: h.Region,
			Bucket: h.Bucket, AccessKey: h.AccessKey, SecretKey: fingerprintOrEmpty(h.SecretKey), UploadURL: h.UploadURL,
			APIKey: fingerprintOrEmpty(h.APIKey), Timeout: dur(h.Timeout)}
		if h.Retain > 0 {
			e.ImageHost.Retain = dur(h.Retain)
		}
	}
	e.Totals = map[string]int{"upstreams": len(c.Upstreams), "pools": len(c.Pools), "keys": keys, "tokens": len(c.Tokens), "models": len(c.Models), "hooks": len(c.Hooks)}
	return e
}

// EffectiveJSON is Effective as indented JSON, ending in a newline.
func (c *Config) EffectiveJSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c.Effective()); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// EffectiveRule is how the model rules treat one model name: the
// suffixes read off it, the rules that matched (most specific first), the
// merged rule and, per attribute, the rule it came from. It is what
// `balance config -model NAME` prints.
type EffectiveRule struct {
	Model    string            `json:"model"`
	Base     string            `json:"base"`
	Suffixes []string          `json:"suffixes,omitempty"`
	Matched  []string          `json:"matched"`
	Rule     effModel          `json:"rule"`
	From     map[string]string `json:"from"`
}

// EffectiveRuleJSON is EffectiveRule for model as indented JSON, ending
// in a newline.
func (c *Config) EffectiveRuleJSON(model string) ([]byte, error) {
	model = strings.TrimPrefix(model, "models/")
	res := CompileModelRules(c).Resolve(model)
	e := EffectiveRule{Model: model, Base: res.Base, Matched: res.Matched, Rule: modelOf(res.Rule), From: res.From}
	for _, s := range []struct {
		on   bool
		name string
	}{{res.Search, "search"}, {res.Image, "image"}, {res.NonThinking, "non_thinking"}} {
		if s.on {
			e.Suffixes = append(e.Suffixes, s.name)
		}
	}
	if e.Matched == nil {
		e.Matched = []string{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func dur(d time.Duration) string { return d.String() }

func fingerprintOrEmpty(s string) string {
	if s == "" {
		return ""
	}
	return secret.Fingerprint(s)
}

// maskURLs hides the password of proxy URLs ("http://u:xxxxx@host").
func maskURLs(in []string) []string {
	if len(in) == 0 {
		return nil
	}
	out := make([]string, len(in))
	for i, s := range in {
		if u, err := url.Parse(s); err == nil {
			out[i] = u.Redacted()
		} else {
			out[i] = "xxxxx"
		}
	}
	return out
}

// sensitive reports whether a header or JSON field name suggests a secret.
func sensitive(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"auth", "key", "token", "secret", "password", "cookie", "credential"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

func maskHeader(name, value string) string {
	if sensitive(name) {
		return secret.Fingerprint(value)
	}
	return value
}

// maskJSON fingerprints string values under secret-looking names in a
// hook's config, which may hold credentials read with env().
func maskJSON(raw json.RawMessage) json.RawMessage {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return raw
	}
	var walk func(any) any
	walk = func(x any) any {
		switch t := x.(type) {
		case map[string]any:
			for k, v := range t {
				if s, ok := v.(string); ok && sensitive(k) {
					t[k] = secret.Fingerprint(s)
				} else {
					t[k] = walk(v)
				}
			}
		case []any:
			for i := range t {
				t[i] = walk(t[i])
			}
		}
		return x
	}
	out, err := json.Marshal(walk(v))
	if err != nil {
		return raw
	}
	return out
}

// MaskDSN hides the password in a database DSN. It understands URL DSNs
// ("mysql://u:p@host/db") and the go-sql-driver form
// "user:password@tcp(host:3306)/db?params", where the password may itself
// contain '@' or ':' (the driver splits at the last '@' before the last '/').
func MaskDSN(dsn string) string {
	if strings.Contains(dsn, "://") {
		if u, err := url.Parse(dsn); err == nil {
			return u.Redacted()
		}
		return "xxxxx"
	}
	slash := strings.LastIndex(dsn, "/")
	if slash < 0 {
		return dsn
	}
	at := strings.LastIndex(dsn[:slash], "@")
	if at < 0 {
		return dsn
	}
	colon := strings.Index(dsn[:at], ":")
	if colon < 0 {
		return dsn
	}
	return dsn[:colon+1] + "xxxxx" + dsn[at:]
}
