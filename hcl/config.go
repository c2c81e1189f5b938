// Package hcl decodes and validates balance.hcl into an immutable Config.
//
// The upstream HCL module is imported under the alias hclv2 everywhere in
// this package, because this package is also called hcl.
//
// Loading runs in passes, each of which collects diagnostics and keeps
// going, so one run reports every problem in the file:
//
//  1. parse the file and evaluate `locals` in dependency order;
//  2. decode every block with gohcl against one EvalContext that holds
//     env(), file(), the standard functions and local.*;
//  3. check references between blocks (pool → upstream, token → pool, …);
//  4. check values (durations, limits, strategies, globs).
//
// The result is a Config: plain values with no HCL types, safe to share
// between goroutines and never mutated after Load returns.
package hcl

import (
	"encoding/json"
	"time"

	"github.com/balanceproxy/balance/hooks"
	"github.com/balanceproxy/balance/internal/verdict"
)

// Config is one validated, immutable version of balance.hcl.
type Config struct {
	// Path is the file the config was loaded from.
	Path string
	// Hash is the sha256 of the config file and every file it read
	// (keys files, file() calls), hex encoded. Equal hashes mean equal
	// configs, so a reload of an unchanged file is skipped.
	Hash string
	// Files lists every file the config depends on, the config file
	// first, so a watcher knows what to watch.
	Files []string
	// Warnings are diagnostics that did not stop the config, one
	// "file:line:col: warning: summary: detail" line each.
	Warnings []string

	Server    Server
	Upstreams []*Upstream
	Proxies   []*ProxyGroup
	Pools     []*Pool
	Tokens    []*Token
	Models    []*ModelRule
	Hooks     []*Hook
	Store     Store
	Status    Status
	Metrics   Metrics
	OpenAI    OpenAI
	FilesAPI  FilesAPI
	// ImageHost is where generated images go when a client asks for
	// links; nil without an image_host block.
	ImageHost *ImageHost
}

// Server holds listener and protocol limits. Listen cannot change on a live
// reload; the other values can.
type Server struct {
	Listen         string
	MaxRequestBody int
	// MaxBodyMemory bounds the bytes of request bodies held in memory at
	// once, across all requests: beyond it a request waits for nothing
	// and gets 503 with Retry-After.
	MaxBodyMemory     int64
	ReadTimeout       time.Duration
	IdleTimeout       time.Duration
	ShutdownGrace     time.Duration
	StreamIdleTimeout time.Duration
	DataDir           string
	LogLevel          string
	LogRequests       bool
}

// Upstream is one Gemini API endpoint.
type Upstream struct {
	Name     string
	BaseURL  string
	Timeout  time.Duration
	Headers  map[string]string
	Proxies  []string // resolved URLs, from proxies and proxy groups
	MaxConns int
	// MaxResponseBody bounds a unary answer read into memory.
	MaxResponseBody int
	// Kind is the API the endpoint speaks: KindGemini or
	// KindVertexExpress. It decides the upstream paths, the probe and
	// which methods a pool on it can serve.
	Kind string
}

// Upstream kinds.
const (
	// KindGemini is the Gemini Developer API: /{version}/models/{m}:{method}.
	KindGemini = "gemini"
	// KindVertexExpress is Vertex AI in express mode (API keys, no project):
	// /v1/publishers/google/models/{m}:{method}.
	KindVertexExpress = "vertex_express"
)

// UpstreamKinds are the values upstream.kind accepts.
var UpstreamKinds = []string{KindGemini, KindVertexExpress}

// ProxyGroup names a set of egress proxies that upstreams and pools share.
type ProxyGroup struct {
	Name string
	URLs []string
}

// Key is one upstream API key. Keys are opaque: no shape is required.
type Key struct {
	Value  string
	Weight int
}

// Pool is a set of keys on one upstream with its failure policy.
type Pool struct {
	Name       string
	Upstream   string
	Keys       []Key
	Strategy   string // round_robin, random, least_recently_used
	MaxRetries int
	Proxies    []string // overrides the upstream's proxies when set
	Cooldown   Cooldown
	Probe      Probe
	Limits     KeyLimits
	// Blame lists the error classes that change a key's state: 429s cool
	// it, invalid keys and 403s quarantine it, and server errors,
	// timeouts or connection failures, when listed, cool it like a 429
	// without a retry delay. Classes not listed never count against it.
	Blame []verdict.Class
	// RetryOn lists the error classes that move a request to another key
	// without blaming the key: "server_error", "timeout", "connection".
	RetryOn []verdict.Class
	// Hooks names hook blocks applied to every request on this pool.
	Hooks []string
	// Fallback names the pools, in order, that take a request when every
	// key of this pool is cooling or quarantined for its model.
	Fallback []string
}

// Cooldown is the policy for keys that answered 429.
type Cooldown struct {
	// Base is used when Google sends no RetryInfo.
	Base time.Duration
	// Max caps escalation.
	Max time.Duration
	// Multiplier grows the cooldown for a key that is rate-limited again
	// soon after it came back.
	Multiplier float64
	// Daily is applied when the quota that ran out is a per-day one.
	Daily time.Duration
}

// Probe is how quarantined keys are re-checked in the background.
type Probe struct {
	Enabled  bool
	Interval time.Duration // first re-check after quarantine
	Max      time.Duration // backoff cap
	Model    string        // model used by the cheap models.get probe
}

// KeyLimits spread load before Google says 429. Zero means unlimited.
type KeyLimits struct {
	RPM int
	RPD int
	TPM int
}

// Token is a client credential and what it may do.
type Token struct {
	Name         string
	Secrets      []string
	Pools        []string
	Models       []string // glob patterns; empty means any
	RPM          int
	Concurrency  int
	TokensPerDay int64
	Expires      time.Time // zero: never
	Labels       map[string]string
	Hooks        []string
	// StreamPacing, when set, paces this token's OpenAI chat streams and
	// wins over the model rule's.
	StreamPacing *StreamPacing
	// LiveSessions bounds the token's open Live API sessions (0: no limit).
	LiveSessions int
	// LiveMaxDuration ends a Live API session after this long (0: never).
	LiveMaxDuration time.Duration
}

// ModelRule shapes requests for one model name, real or virtual.
type ModelRule struct {
	// Name is the model as clients ask for it. A name ending in a glob
	// (e.g. "imagen-*") matches many models.
	Name string
	// Target is the model sent upstream ("" keeps Name).
	Target string
	// Pool routes matching requests to this pool ("" = the token's first).
	Pool string
	// Search adds the googleSearch tool.
	Search bool
	// Image asks for responseModalities TEXT and IMAGE.
	Image bool
	// ThinkingBudget, when set, is filled in unless the client sent one.
	ThinkingBudget *int
	// IncludeThoughts, when set, is filled in unless the client sent it.
	IncludeThoughts *bool
	// SafetySettings and GenerationConfig are JSON filled in only for
	// fields the client did not send.
	SafetySettings   json.RawMessage
	GenerationConfig json.RawMessage
	// Hidden removes the model from model lists; Listed adds a virtual
	// model to them.
	Hidden bool
	Listed bool
	// CodeExecution and URLContext add Google's codeExecution and
	// urlContext tools.
	CodeExecution bool
	URLContext    bool
	// Variants names the derived models (VariantSearch, VariantImage,
	// VariantNonThinking) model lists show for the models the rule
	// matches. Unset (see Sets) means the default set.
	Variants []string
	// StreamPacing, when set, paces OpenAI chat streams of the model.
	StreamPacing *StreamPacing
	// ImagenChat serves chat completions on this (Imagen) model with
	// :predict, answering with the generated images.
	ImagenChat bool
	// Fallback, when set (see Sets), replaces the pool's fallback for
	// this model: the pools, in order, that take its calls when no key of
	// the first pool can.
	Fallback []string

	// attrs are the attributes and blocks the rule's block wrote: a
	// merge takes each attribute from the most specific rule that set it.
	attrs map[string]bool
}

// Sets reports whether the rule's block wrote the attribute (or block)
// named attr, as opposed to leaving it at its default.
func (m *ModelRule) Sets(attr string) bool { return m.attrs[attr] }

// Variant names, as written in a model rule's variants list.
const (
	VariantSearch      = "search"
	VariantImage       = "image"
	VariantNonThinking = "non_thinking"
)

// StreamPacing splits large OpenAI stream deltas into small ones sent at
// a steady rate (a typing effect), never delaying the end of a stream by
// more than MaxDelay.
type StreamPacing struct {
	Enabled bool
	// ChunkChars is the most characters one paced delta carries.
	ChunkChars int
	// Interval is the time between two paced deltas.
	Interval time.Duration
	// MaxDelay bounds how far pacing may hold the stream behind the
	// upstream; past it, deltas go out whole.
	MaxDelay time.Duration
}

// Suffix rules apply to any model: "gemini-2.5-flash-search" and so on.
// They are configured in the openai block and apply on both protocols.
type Suffixes struct {
	Search      string
	Image       string
	NonThinking string
}

// Hook is a WASM plugin applied to requests and responses.
type Hook struct {
	Name         string
	Module       string // absolute path
	Phases       []string
	Routes       []string
	Models       []string
	Tokens       []string
	Timeout      time.Duration
	MaxInstances int
	MemoryBytes  uint64
	Fail         string // open or closed
	Config       json.RawMessage
}

// Spec is the hook as the hooks package loads it. The engine and
// `balance validate` both build it here, so they load the same thing.
func (h *Hook) Spec() hooks.Spec {
	spec := hooks.Spec{
		Name: h.Name, Module: h.Module, Timeout: h.Timeout, MaxInstances: h.MaxInstances,
		MemoryLimitBytes: h.MemoryBytes, Fail: hooks.FailPolicy(h.Fail), Config: h.Config,
	}
	for _, p := range h.Phases {
		spec.Phases = append(spec.Phases, hooks.Phase(p))
	}
	return spec
}

// Store is where stats and key state persist.
type Store struct {
	Driver          string // sqlite, mysql or none
	DSN             string
	Required        bool // refuse to start without the database
	RecordRequests  bool // keep request bodies of failed requests
	MaxBodyBytes    int
	RetainRequests  time.Duration
	RetainErrors    time.Duration
	RetainRollups   time.Duration
	ShareKeyState   bool
	KeyStateRefresh time.Duration
}

// FilesAPI configures the Gemini Files API surface (uploads, cached contents,
// batches), whose resources are pinned to the key that created them.
type FilesAPI struct {
	// MaxUpload bounds one uploaded file; upload chunks stream through and
	// are not held to server.max_request_body.
	MaxUpload int64
}

// Status configures the read-only status endpoint and page.
type Status struct {
	Path  string
	Token string
}

// Metrics configures the Prometheus endpoint.
type Metrics struct {
	Enabled bool
	Path    string
	Token   string
}

// OpenAI configures the OpenAI-compatible surface.
type OpenAI struct {
	Suffixes     Suffixes
	ShowThinking bool
	ImageOutput  string // markdown, data_url or url
	SearchLinks  bool
	KeepAlive    time.Duration // fake-stream keep-alive interval; 0 = off
	MaxN         int
	ImageFetch   ImageFetch
	// ResponseRetention is how long stored Responses API answers are
	// kept; 0 keeps none even when a request asks for store.
	ResponseRetention time.Duration
	// ImageModel is the model of /v1/images/generations calls that name
	// none ("" = the client must name one).
	ImageModel string
	// SpeechModel is the Gemini TTS model OpenAI's TTS model names
	// (tts-1, tts-1-hd, gpt-4o-mini-tts) go to when no model rule
	// renames them.
	SpeechModel string
}

// Image host kinds.
const (
	ImageHostLocal      = "local"
	ImageHostS3         = "s3"
	ImageHostSMMS       = "smms"
	ImageHostPicGo      = "picgo"
	ImageHostCloudflare = "cloudflare_imgbed"
)

// ImageHost says where generated images are kept when clients get links
// to them: balance itself (local) or an upload service.
type ImageHost struct {
	Kind string
	// PublicURL is the base of the links: balance as clients reach it
	// (local), or the bucket's public base (s3).
	PublicURL string
	// Dir and Retain are the local store: images live Retain long and
	// their links stop working with them.
	Dir    string
	Retain time.Duration
	// S3 bucket.
	Endpoint  string
	Region    string
	Bucket    string
	AccessKey string
	SecretKey string
	// UploadURL is the upload endpoint of smms, picgo and
	// cloudflare_imgbed; APIKey their credential.
	UploadURL string
	APIKey    string
	Timeout   time.Duration
}

// ImageFetch bounds fetching http(s) image URLs named in chat messages.
type ImageFetch struct {
	Enabled  bool
	Timeout  time.Duration
	MaxBytes int
}

// Pool returns the pool with the given name, or nil.
func (c *Config) Pool(name string) *Pool {
	for _, p := range c.Pools {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Upstream returns the upstream with the given name, or nil.
func (c *Config) Upstream(name string) *Upstream {
	for _, u := range c.Upstreams {
		if u.Name == name {
			return u
		}
	}
	return nil
}
