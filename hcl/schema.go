package hcl

import (
	"github.com/zclconf/go-cty/cty"
)

// The raw* types mirror balance.hcl one to one. gohcl decodes into them;
// build.go turns them into the plain Config types after validation.
// Pointer fields distinguish "not set" from a zero value.

type rawRoot struct {
	Server    *rawServer     `hcl:"server,block"`
	Upstreams []*rawUpstream `hcl:"upstream,block"`
	Proxies   []*rawProxy    `hcl:"proxy,block"`
	Pools     []*rawPool     `hcl:"pool,block"`
	Tokens    []*rawToken    `hcl:"token,block"`
	Models    []*rawModel    `hcl:"model,block"`
	Hooks     []*rawHook     `hcl:"hook,block"`
	Store     *rawStore      `hcl:"store,block"`
	Status    *rawStatus     `hcl:"status,block"`
	Metrics   *rawMetrics    `hcl:"metrics,block"`
	OpenAI    *rawOpenAI     `hcl:"openai,block"`
	Files     *rawFiles      `hcl:"files,block"`
	ImageHost *rawImageHost  `hcl:"image_host,block"`
}

type rawServer struct {
	Listen            *string `hcl:"listen,optional"`
	MaxRequestBody    *string `hcl:"max_request_body,optional"`
	MaxBodyMemory     *string `hcl:"max_body_memory,optional"`
	ReadTimeout       *string `hcl:"read_timeout,optional"`
	IdleTimeout       *string `hcl:"idle_timeout,optional"`
	ShutdownGrace     *string `hcl:"shutdown_grace,optional"`
	StreamIdleTimeout *string `hcl:"stream_idle_timeout,optional"`
	DataDir           *string `hcl:"data_dir,optional"`
	LogLevel          *string `hcl:"log_level,optional"`
	LogRequests       *bool   `hcl:"log_requests,optional"`
}

type rawUpstream struct {
	Name     string            `hcl:"name,label"`
	BaseURL  string            `hcl:"base_url"`
	Timeout  *string           `hcl:"timeout,optional"`
	Headers  map[string]string `hcl:"headers,optional"`
	Proxies  []string          `hcl:"proxies,optional"`
	Proxy    *string           `hcl:"proxy_group,optional"`
	MaxConns *int              `hcl:"max_conns,optional"`
	// MaxResponseBody is a size such as "64MiB".
	MaxResponseBody *string `hcl:"max_response_body,optional"`
	Kind            *string `hcl:"kind,optional"`
}

type rawProxy struct {
	Name string   `hcl:"name,label"`
	URLs []string `hcl:"urls"`
}

type rawKey struct {
	Value  string `hcl:"value"`
	Weight *int   `hcl:"weight,optional"`
}

type rawCooldown struct {
	Base       *string  `hcl:"base,optional"`
	Max        *string  `hcl:"max,optional"`
	Multiplier *float64 `hcl:"multiplier,optional"`
	Daily      *string  `hcl:"daily,optional"`
}

type rawProbe struct {
	Enabled  *bool   `hcl:"enabled,optional"`
	Interval *string `hcl:"interval,optional"`
	Max      *string `hcl:"max,optional"`
	Model    *string `hcl:"model,optional"`
}

type rawLimits struct {
	RPM *int `hcl:"rpm,optional"`
	RPD *int `hcl:"rpd,optional"`
	TPM *int `hcl:"tpm,optional"`
}

type rawPool struct {
	Name        string       `hcl:"name,label"`
	Upstream    string       `hcl:"upstream"`
	Keys        []string     `hcl:"keys,optional"`
	KeysFile    *string      `hcl:"keys_file,optional"`
	KeysPattern *string      `hcl:"keys_pattern,optional"`
	KeyBlocks   []*rawKey    `hcl:"key,block"`
	Strategy    *string      `hcl:"strategy,optional"`
	MaxRetries  *int         `hcl:"max_retries,optional"`
	Proxies     []string     `hcl:"proxies,optional"`
	ProxyGroup  *string      `hcl:"proxy_group,optional"`
	RetryOn     []string     `hcl:"retry_on,optional"`
	Blame       []string     `hcl:"blame,optional"`
	Hooks       []string     `hcl:"hooks,optional"`
	Fallback    []string     `hcl:"fallback,optional"`
	Cooldown    *rawCooldown `hcl:"cooldown,block"`
	Probe       *rawProbe    `hcl:"probe,block"`
	Limits      *rawLimits   `hcl:"limits,block"`
}

type rawToken struct {
	Name         string            `hcl:"name,label"`
	Secret       *string           `hcl:"secret,optional"`
	Secrets      []string          `hcl:"secrets,optional"`
	Pools        []string          `hcl:"pools"`
	Models       []string          `hcl:"models,optional"`
	RPM          *int              `hcl:"rpm,optional"`
	Concurrency  *int              `hcl:"concurrency,optional"`
	TokensPerDay *int64            `hcl:"tokens_per_day,optional"`
	Expires      *string           `hcl:"expires,optional"`
	Labels       map[string]string `hcl:"labels,optional"`
	Hooks        []string          `hcl:"hooks,optional"`
	StreamPacing *rawStreamPacing  `hcl:"stream_pacing,block"`

	LiveSessions    *int    `hcl:"live_sessions,optional"`
	LiveMaxDuration *string `hcl:"live_max_duration,optional"`
}

type rawModel struct {
	Name             string           `hcl:"name,label"`
	Target           *string          `hcl:"target,optional"`
	Pool             *string          `hcl:"pool,optional"`
	Search           *bool            `hcl:"search,optional"`
	Image            *bool            `hcl:"image,optional"`
	ThinkingBudget   *int             `hcl:"thinking_budget,optional"`
	IncludeThoughts  *bool            `hcl:"include_thoughts,optional"`
	SafetySettings   *cty.Value       `hcl:"safety_settings,optional"`
	GenerationConfig *cty.Value       `hcl:"generation_config,optional"`
	Hidden           *bool            `hcl:"hidden,optional"`
	Listed           *bool            `hcl:"listed,optional"`
	CodeExecution    *bool            `hcl:"code_execution,optional"`
	URLContext       *bool            `hcl:"url_context,optional"`
	Variants         []string         `hcl:"variants,optional"`
	StreamPacing     *rawStreamPacing `hcl:"stream_pacing,block"`
	ImagenChat       *bool            `hcl:"imagen_chat,optional"`
	Fallback         []string         `hcl:"fallback,optional"`
}

type rawStreamPacing struct {
	Enabled    *bool   `hcl:"enabled,optional"`
	ChunkChars *int    `hcl:"chunk_chars,optional"`
	Interval   *string `hcl:"interval,optional"`
	MaxDelay   *string `hcl:"max_delay,optional"`
}

type rawHook struct {
	Name         string     `hcl:"name,label"`
	Module       string     `hcl:"module"`
	Phases       []string   `hcl:"phases,optional"`
	Routes       []string   `hcl:"routes,optional"`
	Models       []string   `hcl:"models,optional"`
	Tokens       []string   `hcl:"tokens,optional"`
	Timeout      *string    `hcl:"timeout,optional"`
	MaxInstances *int       `hcl:"max_instances,optional"`
	Memory       *string    `hcl:"memory,optional"`
	Fail         *string    `hcl:"fail,optional"`
	Config       *cty.Value `hcl:"config,optional"`
}

type rawStore struct {
	Driver          *string `hcl:"driver,optional"`
	DSN             *string `hcl:"dsn,optional"`
	Path            *string `hcl:"path,optional"`
	Required        *bool   `hcl:"required,optional"`
	RecordRequests  *bool   `hcl:"record_request_bodies,optional"`
	MaxBody         *string `hcl:"max_body,optional"`
	RetainRequests  *string `hcl:"retain_requests,optional"`
	RetainErrors    *string `hcl:"retain_errors,optional"`
	RetainRollups   *string `hcl:"retain_rollups,optional"`
	ShareKeyState   *bool   `hcl:"share_key_state,optional"`
	KeyStateRefresh *string `hcl:"key_state_refresh,optional"`
}

type rawFiles struct {
	MaxUpload *string `hcl:"max_upload,optional"`
}

type rawStatus struct {
	Path  *string `hcl:"path,optional"`
	Token *string `hcl:"token,optional"`
}

type rawMetrics struct {
	Enabled *bool   `hcl:"enabled,optional"`
	Path    *string `hcl:"path,optional"`
	Token   *string `hcl:"token,optional"`
}

type rawOpenAI struct {
	SearchSuffix      *string        `hcl:"search_suffix,optional"`
	ImageSuffix       *string        `hcl:"image_suffix,optional"`
	NonThinkingSuffix *string        `hcl:"non_thinking_suffix,optional"`
	ShowThinking      *bool          `hcl:"show_thinking,optional"`
	ImageOutput       *string        `hcl:"image_output,optional"`
	SearchLinks       *bool          `hcl:"search_links,optional"`
	KeepAlive         *string        `hcl:"keep_alive,optional"`
	MaxN              *int           `hcl:"max_n,optional"`
	ResponseRetention *string        `hcl:"response_retention,optional"`
	ImageFetch        *rawImageFetch `hcl:"image_fetch,block"`
	ImageModel        *string        `hcl:"image_model,optional"`
	SpeechModel       *string        `hcl:"speech_model,optional"`
}

type rawImageHost struct {
	Kind      *string `hcl:"kind,optional"`
	PublicURL *string `hcl:"public_url,optional"`
	Dir       *string `hcl:"dir,optional"`
	Retain    *string `hcl:"retain,optional"`
	Endpoint  *string `hcl:"endpoint,optional"`
	Region    *string `hcl:"region,optional"`
	Bucket    *string `hcl:"bucket,optional"`
	AccessKey *string `hcl:"access_key,optional"`
	SecretKey *string `hcl:"secret_key,optional"`
	UploadURL *string `hcl:"upload_url,optional"`
	APIKey    *string `hcl:"api_key,optional"`
	Timeout   *string `hcl:"timeout,optional"`
}

type rawImageFetch struct {
	Enabled  *bool   `hcl:"enabled,optional"`
	Timeout  *string `hcl:"timeout,optional"`
	MaxBytes *string `hcl:"max_bytes,optional"`
}
