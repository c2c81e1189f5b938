package mockgemini

import (
	"strconv"
	"strings"
	"time"

	"github.com/balanceproxy/balance/internal/jsonw"
)

// apiError is a google.rpc.Status as the Gemini API renders it. details is
// the compact JSON array of Any messages, or empty for none.
type apiError struct {
	code    int
	status  string
	message string
	details string
}

// Messages copied from the real API so clients that match on text (and the
// proxy's classifier) see what they would see in production.
const (
	msgNoKey = "Method doesn't allow unregistered callers (callers without established identity). " +
		"Please use API Key or other form of API consumer identity to call this API."
	msgInvalidKey  = "API key not valid. Please pass a valid API key."
	msgUnavailable = "The model is overloaded. Please try again later."
	msgInternal    = "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting"
	msgBadRequest  = "Request contains an invalid argument."
	msgBadJSON     = "Invalid JSON payload received. Unexpected token."
)

const serviceName = "generativelanguage.googleapis.com"

func errInvalidKey() apiError {
	return apiError{code: 400, status: "INVALID_ARGUMENT", message: msgInvalidKey,
		details: `[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com","metadata":{"service":"` + serviceName + `"}},` +
			`{"@type":"type.googleapis.com/google.rpc.LocalizedMessage","locale":"en-US","message":"` + msgInvalidKey + `"}]`}
}

func errNoKey() apiError {
	return apiError{code: 403, status: "PERMISSION_DENIED", message: msgNoKey}
}

// errLeakedKey is the 403 Google sends for a key it has suspended. Its
// message quotes the whole key, which is exactly why the proxy must redact
// upstream bodies; the mock reproduces that on purpose.
func errLeakedKey(key string) apiError {
	msg := "Your API key was reported as leaked. Please use another API key. " +
		"Permission denied: Consumer 'api_key:" + key + "' has been suspended."
	d := make([]byte, 0, 256)
	d = append(d, `[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"CONSUMER_SUSPENDED","domain":"googleapis.com","metadata":{"consumer":`...)
	d = jsonw.AppendMarshal(d, "api_key:"+key)
	d = append(d, `,"service":"`+serviceName+`"}},{"@type":"type.googleapis.com/google.rpc.LocalizedMessage","locale":"en-US","message":`...)
	d = jsonw.AppendMarshal(d, msg)
	d = append(d, "}]"...)
	return apiError{code: 403, status: "PERMISSION_DENIED", message: msg, details: string(d)}
}

func errUnavailable() apiError {
	return apiError{code: 503, status: "UNAVAILABLE", message: msgUnavailable}
}

func errInternal() apiError {
	return apiError{code: 500, status: "INTERNAL", message: msgInternal}
}

func errBadRequest(msg string) apiError {
	return apiError{code: 400, status: "INVALID_ARGUMENT", message: msg}
}

func errNotFound(msg string) apiError {
	return apiError{code: 404, status: "NOT_FOUND", message: msg}
}

func errModelNotFound(model, version, method string) apiError {
	return errNotFound("models/" + model + " is not found for API version " + version +
		", or is not supported for " + method + ". Call ListModels to see the list of available models and their supported methods.")
}

// formatDuration renders d as a protobuf Duration JSON string: seconds
// with up to nine fractional digits and no trailing zeros ("7s", "0.5s").
func formatDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := strconv.FormatInt(int64(d/time.Second), 10)
	if frac := int64(d % time.Second); frac != 0 {
		f := strconv.FormatInt(frac+1e9, 10)[1:]
		s += "." + strings.TrimRight(f, "0")
	}
	return s + "s"
}

// errRateLimit is the per-minute free-tier quota 429 with Help,
// QuotaFailure and RetryInfo details, as captured from the real API.
func errRateLimit(model string, delay time.Duration) apiError {
	if model == "" {
		model = "gemini-2.5-flash"
	}
	dur := formatDuration(delay)
	msg := "You exceeded your current quota, please check your plan and billing details. " +
		"For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. " +
		"To monitor your current usage, head to: https://ai.dev/usage?tab=rate-limit. \n" +
		"* Quota exceeded for metric: generativelanguage.googleapis.com/generate_content_free_tier_requests, limit: 10, model: " + model + "\n" +
		"Please retry in " + strings.TrimSuffix(dur, "s") + "s."
	d := make([]byte, 0, 640)
	d = append(d, `[{"@type":"type.googleapis.com/google.rpc.Help","links":[{"description":"Learn more about Gemini API quotas","url":"https://ai.google.dev/gemini-api/docs/rate-limits"}]},`...)
	d = append(d, `{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaMetric":"generativelanguage.googleapis.com/generate_content_free_tier_requests","quotaId":"GenerateRequestsPerMinutePerProjectPerModel-FreeTier","quotaDimensions":{"location":"global","model":`...)
	d = jsonw.AppendMarshal(d, model)
	d = append(d, `},"quotaValue":"10"}]},{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"`...)
	d = append(d, dur...)
	d = append(d, `"}]`...)
	return apiError{code: 429, status: "RESOURCE_EXHAUSTED", message: msg, details: string(d)}
}

// appendErrorCompact appends {"error":{...}} in compact form.
func appendErrorCompact(dst []byte, e apiError) []byte {
	dst = append(dst, `{"error":{"code":`...)
	dst = appendInt(dst, e.code)
	dst = append(dst, `,"message":`...)
	dst = jsonw.AppendMarshal(dst, e.message)
	dst = append(dst, `,"status":`...)
	dst = jsonw.AppendMarshal(dst, e.status)
	if e.details != "" {
		dst = append(dst, `,"details":`...)
		dst = append(dst, e.details...)
	}
	return append(dst, "}}"...)
}

// renderError returns the pretty-printed native body, or the array-wrapped
// body Google's OpenAI-compatible endpoint sends ([{"error":{...}}]).
func renderError(e apiError, array bool) []byte {
	c := make([]byte, 0, 256+len(e.details)+len(e.message))
	if array {
		c = append(c, '[')
	}
	c = appendErrorCompact(c, e)
	if array {
		c = append(c, ']')
	}
	return appendPretty(make([]byte, 0, len(c)*2), c)
}
