package engine

import (
	"encoding/json"
	"time"

	"github.com/valyala/fasthttp"
)

// writeOpenAIError answers in OpenAI's error shape, which every OpenAI SDK
// parses: {"error":{"message","type","param","code"}}.
func writeOpenAIError(ctx *fasthttp.RequestCtx, status int, msg, param string, retryAfter time.Duration) {
	ctx.Response.Reset()
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	if retryAfter > 0 {
		ctx.Response.Header.Set("Retry-After", retryAfterSeconds(retryAfter))
	}
	ctx.SetBody(openAIErrorJSON(status, msg, param))
}

func openAIErrorJSON(status int, msg, param string) []byte {
	var body struct {
		Error struct {
			Message string  `json:"message"`
			Type    string  `json:"type"`
			Param   *string `json:"param"`
			Code    any     `json:"code"`
		} `json:"error"`
	}
	body.Error.Message = msg
	body.Error.Type = openAIErrorType(status)
	if param != "" {
		body.Error.Param = &param
	}
	body.Error.Code = openAIErrorCode(status)
	out, _ := json.Marshal(body)
	return out
}

func openAIErrorType(status int) string {
	switch {
	case status == 401:
		return "authentication_error"
	case status == 403:
		return "permission_error"
	case status == 404:
		return "not_found_error"
	case status == 429:
		return "rate_limit_error"
	case status >= 500:
		return "api_error"
	}
	return "invalid_request_error"
}

func openAIErrorCode(status int) any {
	switch status {
	case 401:
		return "invalid_api_key"
	case 429:
		return "rate_limit_exceeded"
	}
	return nil
}
