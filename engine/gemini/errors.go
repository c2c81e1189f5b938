// Package gemini knows the Gemini REST API's wire details that the proxy
// acts on: how to read an upstream error and which class of failure it is,
// how to write an error in Google's shape, and how to take a request path
// apart.
package gemini

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/balanceproxy/balance/internal/verdict"
)

// errorBody is the subset of google.rpc.Status the proxy reads.
type errorBody struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
		Details []struct {
			Type       string `json:"@type"`
			Reason     string `json:"reason"`
			RetryDelay string `json:"retryDelay"`
			Violations []struct {
				QuotaID string `json:"quotaId"`
			} `json:"violations"`
		} `json:"details"`
	} `json:"error"`
}

// Classify reads an upstream status and body. It never fails: a body that
// is not Google's error JSON is classified by status alone.
func Classify(status int, body []byte) verdict.Verdict {
	if status >= 200 && status < 300 {
		return verdict.Verdict{Class: verdict.OK}
	}
	var eb errorBody
	if len(body) > 0 && (body[0] == '{' || body[0] == '[' || bytes.IndexByte(body[:min(len(body), 64)], '{') >= 0) {
		b := bytes.TrimSpace(body)
		if len(b) > 0 && b[0] == '[' { // Google's OpenAI-compatible endpoint wraps errors in an array
			var arr []errorBody
			if json.Unmarshal(b, &arr) == nil && len(arr) > 0 {
				eb = arr[0]
			}
		} else {
			_ = json.Unmarshal(b, &eb)
		}
	}
	v := verdict.Verdict{Reason: eb.Error.Status, Message: eb.Error.Message}
	for _, d := range eb.Error.Details {
		if d.Reason != "" {
			v.Reason = d.Reason
		}
		if d.RetryDelay != "" {
			if dur, err := ParseProtoDuration(d.RetryDelay); err == nil {
				v.RetryAfter = dur
			}
		}
		for _, q := range d.Violations {
			if strings.Contains(q.QuotaID, "PerDay") {
				v.Daily = true
			}
		}
	}
	switch {
	case status == 429:
		v.Class = verdict.RateLimited
		if v.RetryAfter == 0 {
			v.RetryAfter = retryDelayFromMessage(v.Message)
		}
	case status == 400 && (v.Reason == "API_KEY_INVALID" || v.Reason == "API_KEY_EXPIRED" || strings.Contains(v.Message, "API key not valid") || strings.Contains(v.Message, "API key expired")):
		v.Class = verdict.InvalidKey
	case status == 401 && eb.Error.Status == "UNAUTHENTICATED":
		// Google answers 401 for credentials it cannot use at all.
		v.Class = verdict.InvalidKey
	case status == 403 && resourceDenied(v.Message):
		// Another project's file or cache (or none at all): the request's
		// fault, not the key's, which must not be quarantined for it.
		v.Class = verdict.ClientError
		v.Reason = "resource_permission"
	case status == 403:
		v.Class = verdict.PermissionDenied
	case status >= 500:
		v.Class = verdict.ServerError
	default:
		v.Class = verdict.ClientError
	}
	if v.Reason == "" {
		v.Reason = strconv.Itoa(status)
	}
	return v
}

// retryDelayFromMessage reads "Please retry in 47.88s." from a 429 message
// that came without RetryInfo.
func retryDelayFromMessage(msg string) time.Duration {
	i := strings.Index(msg, "retry in ")
	if i < 0 {
		return 0
	}
	rest := msg[i+len("retry in "):]
	end := strings.IndexAny(rest, " .\n")
	for end >= 0 && end+1 < len(rest) && rest[end] == '.' && rest[end+1] >= '0' && rest[end+1] <= '9' {
		next := strings.IndexAny(rest[end+1:], " \n")
		if next < 0 {
			end = len(rest)
			break
		}
		end += 1 + next
	}
	if end < 0 {
		end = len(rest)
	}
	d, err := time.ParseDuration(strings.TrimSuffix(rest[:end], "."))
	if err != nil {
		return 0
	}
	return d
}

// ParseProtoDuration parses a protobuf JSON Duration such as "47s" or
// "29.723877525s".
func ParseProtoDuration(s string) (time.Duration, error) {
	return time.ParseDuration(s)
}

// StatusName is the google.rpc code name Google pairs with an HTTP status.
func StatusName(status int) string {
	switch status {
	case 400:
		return "INVALID_ARGUMENT"
	case 401:
		return "UNAUTHENTICATED"
	case 403:
		return "PERMISSION_DENIED"
	case 404:
		return "NOT_FOUND"
	case 409:
		return "ABORTED"
	case 413:
		return "INVALID_ARGUMENT"
	case 429:
		return "RESOURCE_EXHAUSTED"
	case 499:
		return "CANCELLED"
	case 500:
		return "INTERNAL"
	case 501:
		return "UNIMPLEMENTED"
	case 503:
		return "UNAVAILABLE"
	case 504:
		return "DEADLINE_EXCEEDED"
	}
	if status >= 500 {
		return "INTERNAL"
	}
	return "FAILED_PRECONDITION"
}

// ErrorJSON renders an error in Google's shape:
// {"error":{"code":N,"message":"...","status":"..."}}. A retryDelay, when
// positive, is added as a RetryInfo detail so Google's SDKs and our own
// retry logic read it the usual way.
func ErrorJSON(status int, message string, retryDelay time.Duration) []byte {
	type detail struct {
		Type       string `json:"@type"`
		RetryDelay string `json:"retryDelay,omitempty"`
		Reason     string `json:"reason,omitempty"`
		Domain     string `json:"domain,omitempty"`
	}
	var body struct {
		Error struct {
			Code    int      `json:"code"`
			Message string   `json:"message"`
			Status  string   `json:"status"`
			Details []detail `json:"details,omitempty"`
		} `json:"error"`
	}
	body.Error.Code = status
	body.Error.Message = message
	body.Error.Status = StatusName(status)
	if retryDelay > 0 {
		secs := retryDelay.Seconds()
		body.Error.Details = append(body.Error.Details, detail{
			Type:       "type.googleapis.com/google.rpc.RetryInfo",
			RetryDelay: strconv.FormatFloat(secs, 'f', -1, 64) + "s",
		})
	}
	out, _ := json.Marshal(body) // cannot fail: only strings and ints
	return out
}

// resourceDenied reports Google's 403 for a file, cached content or batch
// the key's project cannot see ("You do not have permission to access the
// File abc or it may not exist", "CachedContent not found (or permission
// denied)").
func resourceDenied(msg string) bool {
	return strings.Contains(msg, "permission to access the File") || strings.Contains(msg, "CachedContent not found") ||
		strings.Contains(msg, "permission to access the batch")
}
