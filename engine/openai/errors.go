package openai

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/balanceproxy/balance/internal/jsonw"
)

// Error is an OpenAI-shaped API error with the HTTP status to send.
// It is returned for bad client input (Status 400, Param naming the field)
// and produced from upstream Gemini errors (Status kept as Google sent it, so
// a 429 stays a 429 and clients retry correctly).
type Error struct {
	Status  int    // HTTP status to answer with
	Type    string // OpenAI error type, e.g. "invalid_request_error"
	Param   string // offending request field ("messages[2].role"); empty → null
	Code    string // machine code; empty → null
	Message string // human-readable message
}

// Error implements error.
func (e *Error) Error() string {
	if e.Param != "" {
		return fmt.Sprintf("%d %s: %s (param %s)", e.Status, e.Type, e.Message, e.Param)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Type, e.Message)
}

// JSON returns the body {"error":{"message","type","param","code"}} with
// null for empty param/code, as the OpenAI API does.
func (e *Error) JSON() []byte {
	b := make([]byte, 0, 64+len(e.Message))
	return e.appendJSON(b)
}

func (e *Error) appendJSON(b []byte) []byte {
	b = append(b, `{"error":{"message":`...)
	b = jsonw.AppendString(b, e.Message)
	b = append(b, `,"type":`...)
	b = jsonw.AppendString(b, e.Type)
	b = append(b, `,"param":`...)
	b = appendStringOrNull(b, e.Param)
	b = append(b, `,"code":`...)
	b = appendStringOrNull(b, e.Code)
	b = append(b, "}}"...)
	return b
}

// NewError builds the error balance itself answers with status: the
// OpenAI type and code conventionally paired with it, so SDK error classes
// and client retry logic behave as they would against OpenAI.
func NewError(status int, message, param string) *Error {
	return &Error{Status: status, Type: typeForStatus(status), Param: param, Code: codeForStatus(status, "", ""), Message: message}
}

// badRequest builds the 400 returned for client input the translation refuses.
func badRequest(param, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: param, Message: fmt.Sprintf(format, args...)}
}

// typeForStatus picks the OpenAI error type conventionally paired with an
// HTTP status, so SDK error classes and client retry logic behave as they
// would against OpenAI.
func typeForStatus(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return "authentication_error"
	case status == http.StatusForbidden:
		return "permission_error"
	case status == http.StatusNotFound:
		return "not_found_error"
	case status == http.StatusTooManyRequests:
		return "rate_limit_error"
	case status >= 500:
		return "server_error"
	default:
		return "invalid_request_error"
	}
}

// googleError is google.rpc.Status as the Gemini API serialises it.
type googleError struct {
	Error *struct {
		Code    int             `json:"code"`
		Message string          `json:"message"`
		Status  string          `json:"status"`
		Details []googleDetails `json:"details"`
		// Fields of an error that is already OpenAI-shaped.
		Type  string          `json:"type"`
		Param json.RawMessage `json:"param"`
	} `json:"error"`
}

type googleDetails struct {
	Type   string `json:"@type"`
	Reason string `json:"reason"`
}

// ErrorFromGemini converts a Gemini error response (status + body) into an
// OpenAI-shaped *Error. The HTTP status is kept; a status outside 4xx/5xx
// (which would be a caller bug) becomes 502. A non-JSON body becomes the
// message (trimmed), so nothing Google said is lost.
func ErrorFromGemini(status int, body []byte) *Error {
	if status < 400 || status > 599 {
		status = http.StatusBadGateway
	}
	e := &Error{Status: status, Type: typeForStatus(status)}
	var g googleError
	if err := json.Unmarshal(body, &g); err != nil || g.Error == nil {
		// The compat endpoint wraps errors in an array.
		var arr []googleError
		if err2 := json.Unmarshal(body, &arr); err2 == nil && len(arr) > 0 && arr[0].Error != nil {
			g = arr[0]
		} else {
			msg := strings.TrimSpace(string(body))
			if len(msg) > 1024 {
				msg = msg[:1024] + "…"
			}
			if msg == "" {
				msg = http.StatusText(status)
			}
			e.Message = msg
			e.Code = codeForStatus(status, "", "")
			return e
		}
	}
	ge := g.Error
	e.Message = ge.Message
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	if ge.Type != "" { // already OpenAI-shaped: keep its type and param
		e.Type = ge.Type
		var p string
		if json.Unmarshal(ge.Param, &p) == nil {
			e.Param = p
		}
	}
	reason := ""
	for _, d := range ge.Details {
		if d.Reason != "" {
			reason = d.Reason
			break
		}
	}
	e.Code = codeForStatus(status, ge.Status, reason)
	return e
}

// codeForStatus derives the OpenAI "code": the conventional OpenAI codes
// where clients key off them (invalid_api_key, rate_limit_exceeded), and
// Google's own status name otherwise so no information is dropped.
func codeForStatus(status int, googleStatus, reason string) string {
	switch {
	case reason == "API_KEY_INVALID":
		return "invalid_api_key"
	case status == http.StatusTooManyRequests:
		return "rate_limit_exceeded"
	case status == http.StatusNotFound:
		return "model_not_found"
	case googleStatus != "":
		return strings.ToLower(googleStatus)
	}
	return ""
}
