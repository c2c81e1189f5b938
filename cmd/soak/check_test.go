package main

import (
	"errors"
	"testing"
)

func TestJudge(t *testing.T) {
	geminiErr := `{"error":{"code":429,"message":"Resource exhausted","status":"RESOURCE_EXHAUSTED"}}`
	tests := []struct {
		name string
		a    Answer
		want Outcome
	}{
		{"gemini unary answer", Answer{Route: NativeUnary, Status: 200, Body: []byte(`{"candidates":[{"content":{}}]}`)}, OutcomeOK},
		{"gemini unary without candidates", Answer{Route: NativeUnary, Status: 200, Body: []byte(`{}`)}, OutcomeBad},
		{"gemini error JSON", Answer{Route: NativeUnary, Status: 429, ContentType: "application/json; charset=UTF-8", Body: []byte(geminiErr)}, OutcomeCleanError},
		{"gemini error code disagrees with status", Answer{Route: NativeStream, Status: 503, ContentType: "application/json", Body: []byte(geminiErr)}, OutcomeBad},
		{"gemini route answered in OpenAI shape", Answer{Route: NativeUnary, Status: 400, ContentType: "application/json", Body: []byte(`{"error":{"message":"x","type":"invalid_request_error"}}`)}, OutcomeBad},
		{"error as text/plain", Answer{Route: OpenAIUnary, Status: 502, ContentType: "text/plain", Body: []byte(`bad gateway`)}, OutcomeBad},
		{"openai error JSON", Answer{Route: OpenAIUnary, Status: 401, ContentType: "application/json", Body: []byte(`{"error":{"message":"no","type":"invalid_request_error","param":null,"code":null}}`)}, OutcomeCleanError},
		{"openai unary answer", Answer{Route: OpenAIUnary, Status: 200, Body: []byte(`{"object":"chat.completion","choices":[{}]}`)}, OutcomeOK},
		{"transport error", Answer{Route: OpenAIStream, ReadErr: errors.New("unexpected EOF")}, OutcomeBad},

		{"gemini stream with finishReason", Answer{Route: NativeStream, Status: 200, Body: []byte(
			"data: {\"candidates\": [{\"content\": {}}]}\r\n\r\ndata: {\"candidates\": [{\"finishReason\": \"STOP\"}]}\r\n\r\n")}, OutcomeOK},
		{"gemini stream stopped without finishReason", Answer{Route: NativeStream, Status: 200, Body: []byte(
			"data: {\"candidates\": [{\"content\": {}}]}\r\n\r\n")}, OutcomeBad},
		{"gemini stream ending in an error event", Answer{Route: NativeStream, Status: 200, Body: []byte(
			"data: {\"candidates\": [{}]}\r\n\r\ndata: " + geminiErr + "\r\n\r\n")}, OutcomeCleanError},
		{"gemini stream going on after an error event", Answer{Route: NativeStream, Status: 200, Body: []byte(
			"data: " + geminiErr + "\r\n\r\ndata: {\"candidates\": [{\"finishReason\": \"STOP\"}]}\r\n\r\n")}, OutcomeBad},
		{"gemini stream with no events", Answer{Route: NativeStream, Status: 200}, OutcomeBad},

		{"openai stream finished", Answer{Route: OpenAIStream, Status: 200, Body: []byte(
			"data: {\"choices\":[{\"delta\":{},\"finish_reason\":null}]}\n\n: keep-alive\n\ndata: {\"choices\":[{\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n")}, OutcomeOK},
		{"openai stream [DONE] without finish_reason", Answer{Route: OpenAIStream, Status: 200, Body: []byte(
			"data: {\"choices\":[{\"delta\":{},\"finish_reason\":null}]}\n\ndata: [DONE]\n\n")}, OutcomeBad},
		{"openai stream without [DONE]", Answer{Route: OpenAIStream, Status: 200, Body: []byte(
			"data: {\"choices\":[{\"finish_reason\":\"stop\"}]}\n\n")}, OutcomeBad},
		{"openai stream ending in an error event", Answer{Route: OpenAIStream, Status: 200, Body: []byte(
			"data: {\"choices\":[{\"delta\":{}}]}\n\ndata: {\"error\":{\"message\":\"cut\",\"type\":\"server_error\"}}\n\n")}, OutcomeCleanError},
		{"openai error event followed by [DONE]", Answer{Route: OpenAIStream, Status: 200, Body: []byte(
			"data: {\"error\":{\"message\":\"cut\",\"type\":\"server_error\"}}\n\ndata: [DONE]\n\n")}, OutcomeBad},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason := Judge(tt.a)
			if got != tt.want {
				t.Fatalf("Judge = %s (%s), want %s", got, reason, tt.want)
			}
		})
	}
}

func TestMarkerRoundTrip(t *testing.T) {
	for _, tt := range []struct {
		id      int64
		watched bool
	}{{1, false}, {42, true}, {1234567, true}} {
		body := []byte(`{"contents":[{"parts":[{"text":"` + markerFor(tt.id, tt.watched) + ` hello"}]}]}`)
		id, watched, ok := parseMarker(body)
		if !ok || id != tt.id || watched != tt.watched {
			t.Errorf("parseMarker(%s) = %d %t %t", body, id, watched, ok)
		}
	}
	for _, body := range []string{`{}`, `soakid:`, `soakid:c:`, `soakid:cx1:`} {
		if _, _, ok := parseMarker([]byte(body)); ok {
			t.Errorf("parseMarker(%q) found a marker", body)
		}
	}
}
