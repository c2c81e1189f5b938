package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Outcome is how one client request ended, as the client saw it.
type Outcome string

const (
	// OutcomeOK is a 2xx answer, whole: a unary JSON answer or a stream
	// that ended with its terminator.
	OutcomeOK Outcome = "ok"
	// OutcomeCleanError is an error the client can parse in its protocol:
	// an error JSON with a non-2xx status, or a stream ending with an
	// error event.
	OutcomeCleanError Outcome = "error"
	// OutcomeCancelled is a request the client itself gave up on.
	OutcomeCancelled Outcome = "cancelled"
	// OutcomeBad is anything else: a stream cut silently, a body that is
	// not the protocol's, a transport error. Any one fails the soak.
	OutcomeBad Outcome = "BAD"
)

// Answer is what the client read for one request.
type Answer struct {
	Route       Route
	Status      int
	ContentType string
	Body        []byte
	ReadErr     error // transport error while sending or reading
}

// Judge sorts an answer into an outcome; for OutcomeBad (and for clean
// errors) the reason says what was seen.
func Judge(a Answer) (Outcome, string) {
	if a.ReadErr != nil {
		return OutcomeBad, "transport: " + a.ReadErr.Error()
	}
	if a.Status < 200 || a.Status > 299 {
		return judgeError(a)
	}
	switch {
	case a.Route.Native() && !a.Route.Stream():
		return judgeGeminiUnary(a.Body)
	case a.Route.Native():
		return judgeGeminiStream(a.Body)
	case !a.Route.Stream():
		return judgeOpenAIUnary(a.Body)
	default:
		return judgeOpenAIStream(a.Body)
	}
}

// geminiError is google.rpc.Status as the Gemini API sends it.
type geminiError struct {
	Error *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
	} `json:"error"`
}

// openAIError is OpenAI's error object.
type openAIError struct {
	Error *struct {
		Message *string `json:"message"`
		Type    *string `json:"type"`
	} `json:"error"`
}

// cleanGeminiError reports whether b is a Gemini error JSON with code
// (when code is not 0), a message and a status name.
func cleanGeminiError(b []byte, code int) error {
	var e geminiError
	if err := json.Unmarshal(b, &e); err != nil {
		return fmt.Errorf("not JSON: %v", err)
	}
	switch {
	case e.Error == nil:
		return fmt.Errorf("no error object")
	case code != 0 && e.Error.Code != code:
		return fmt.Errorf("error.code %d under HTTP %d", e.Error.Code, code)
	case e.Error.Message == "" || e.Error.Status == "":
		return fmt.Errorf("error without message or status")
	}
	return nil
}

// cleanOpenAIError reports whether b is an OpenAI error JSON.
func cleanOpenAIError(b []byte) error {
	var e openAIError
	if err := json.Unmarshal(b, &e); err != nil {
		return fmt.Errorf("not JSON: %v", err)
	}
	if e.Error == nil || e.Error.Message == nil || *e.Error.Message == "" || e.Error.Type == nil {
		return fmt.Errorf("no error object with message and type")
	}
	return nil
}

func judgeError(a Answer) (Outcome, string) {
	if !strings.HasPrefix(a.ContentType, "application/json") {
		return OutcomeBad, fmt.Sprintf("HTTP %d with Content-Type %q", a.Status, a.ContentType)
	}
	var err error
	if a.Route.Native() {
		err = cleanGeminiError(a.Body, a.Status)
	} else {
		err = cleanOpenAIError(a.Body)
	}
	if err != nil {
		return OutcomeBad, fmt.Sprintf("HTTP %d: %v: %.120q", a.Status, err, a.Body)
	}
	return OutcomeCleanError, fmt.Sprintf("HTTP %d", a.Status)
}

func judgeGeminiUnary(b []byte) (Outcome, string) {
	var r struct {
		Candidates []json.RawMessage `json:"candidates"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return OutcomeBad, fmt.Sprintf("2xx body is not JSON: %v", err)
	}
	if len(r.Candidates) == 0 {
		return OutcomeBad, fmt.Sprintf("2xx answer without candidates: %.120q", b)
	}
	return OutcomeOK, ""
}

func judgeOpenAIUnary(b []byte) (Outcome, string) {
	var r struct {
		Object  string            `json:"object"`
		Choices []json.RawMessage `json:"choices"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return OutcomeBad, fmt.Sprintf("2xx body is not JSON: %v", err)
	}
	if r.Object != "chat.completion" || len(r.Choices) == 0 {
		return OutcomeBad, fmt.Sprintf("2xx answer is not a chat.completion: %.120q", b)
	}
	return OutcomeOK, ""
}

// sseData returns the data of each SSE event in b, comments skipped.
func sseData(b []byte) [][]byte {
	var out [][]byte
	for _, line := range bytes.Split(b, []byte("\n")) {
		line = bytes.TrimRight(line, "\r")
		if d, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			out = append(out, bytes.TrimSpace(d))
		}
	}
	return out
}

// judgeGeminiStream: a native SSE stream has no terminator line; it is
// whole when its last event carries a finishReason, and failed cleanly
// when its last event is an error object. An error event anywhere else,
// or a last event with neither, is a stream cut silently.
func judgeGeminiStream(b []byte) (Outcome, string) {
	events := sseData(b)
	if len(events) == 0 {
		return OutcomeBad, "2xx stream without events"
	}
	for i, ev := range events {
		var e struct {
			Error      json.RawMessage `json:"error"`
			Candidates []struct {
				FinishReason string `json:"finishReason"`
			} `json:"candidates"`
		}
		if err := json.Unmarshal(ev, &e); err != nil {
			return OutcomeBad, fmt.Sprintf("event %d is not JSON: %.80q", i, ev)
		}
		last := i == len(events)-1
		if e.Error != nil {
			if !last {
				return OutcomeBad, fmt.Sprintf("error event %d of %d is not the last", i+1, len(events))
			}
			if err := cleanGeminiError(ev, 0); err != nil {
				return OutcomeBad, "error event: " + err.Error()
			}
			return OutcomeCleanError, "stream error event"
		}
		if last && (len(e.Candidates) == 0 || e.Candidates[0].FinishReason == "") {
			return OutcomeBad, fmt.Sprintf("stream ended after %d events without finishReason or error event", len(events))
		}
	}
	return OutcomeOK, ""
}

// judgeOpenAIStream: an OpenAI stream is whole when a chunk carried a
// finish_reason and it ends with data: [DONE]; it failed cleanly when its
// last event is an error object (with no [DONE] after it).
func judgeOpenAIStream(b []byte) (Outcome, string) {
	events := sseData(b)
	if len(events) == 0 {
		return OutcomeBad, "2xx stream without events"
	}
	finished := false
	for i, ev := range events {
		last := i == len(events)-1
		if string(ev) == "[DONE]" {
			if !last {
				return OutcomeBad, "events after [DONE]"
			}
			if !finished {
				return OutcomeBad, "[DONE] without a finish_reason: a cut answer reported as complete"
			}
			return OutcomeOK, ""
		}
		var c struct {
			Error   json.RawMessage `json:"error"`
			Choices []struct {
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
		}
		if err := json.Unmarshal(ev, &c); err != nil {
			return OutcomeBad, fmt.Sprintf("event %d is not JSON: %.80q", i, ev)
		}
		if c.Error != nil {
			if !last {
				return OutcomeBad, fmt.Sprintf("error event %d of %d is not the last", i+1, len(events))
			}
			if err := cleanOpenAIError(ev); err != nil {
				return OutcomeBad, "error event: " + err.Error()
			}
			return OutcomeCleanError, "stream error event"
		}
		for _, ch := range c.Choices {
			if ch.FinishReason != nil && *ch.FinishReason != "" {
				finished = true
			}
		}
	}
	return OutcomeBad, fmt.Sprintf("stream ended after %d events without [DONE] or error event", len(events))
}
