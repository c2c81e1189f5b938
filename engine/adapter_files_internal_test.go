package engine

import (
	"slices"
	"testing"
)

// isResourcePath decides, for every native call, whether the Files,
// cachedContents, batches and operations adapter serves it rather than the
// model call adapter.
func TestIsResourcePath(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"/v1beta/files", true},
		{"/v1beta/files/abc", true},
		{"/v1/files/abc:download", true},
		{"/gemini/v1beta/files", true},
		{"/upload/v1beta/files", true},
		{"/gemini/upload/v1beta/files", true},
		{"/v1beta/cachedContents", true},
		{"/v1alpha/cachedContents/xyz", true},
		{"/v1beta/batches", true},
		{"/v1beta/batches/b1:cancel", true},
		{"/v1beta/models/gemini-2.5-flash:batchGenerateContent", true},
		{"/v1beta/models/veo-3.0-generate-001:predictLongRunning", true},
		{"/gemini/v1beta/models/veo-3.0-generate-001/operations/op1", true},
		{"/v1beta/models/imagen-4.0-generate-001:predict", false},
		{"/v1beta/models/gemini-2.5-flash:generateContent", false},
		{"/v1beta/models/gemini-2.5-flash:streamGenerateContent", false},
		{"/v1beta/models", false},
		{"/v1beta/filesystem", false},
		{"/v2/files", false},
		{"/files", false},
		{"", false},
		{"/", false},
	}
	for _, tt := range tests {
		if got := isResourcePath([]byte(tt.path)); got != tt.want {
			t.Errorf("isResourcePath(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

// A done video operation names its videos by download URI, as Google
// writes them; balance records each as a file of the operation's owner.
func TestGeneratedFiles(t *testing.T) {
	tests := []struct {
		name, kind, body string
		mime             string
		want             []string
	}{
		{"videos", "operation", `{"name":"models/veo/operations/x","done":true,"response":{"generateVideoResponse":{"generatedSamples":[` +
			`{"video":{"uri":"https://generativelanguage.googleapis.com/v1beta/files/v1:download?alt=media"}},` +
			`{"video":{"uri":"files/v2"}},{"video":{"uri":"https://x/v1beta/files/bad id:download"}},{"video":{}}]}}}`,
			"video/mp4", []string{"files/v1", "files/v2"}},
		{"running", "operation", `{"name":"models/veo/operations/x"}`, "video/mp4", nil},
		{"batch results", "batch", `{"metadata":{"output":{"responsesFile":"files/r1"}}}`, "application/jsonl", []string{"files/r1"}},
		{"batch running", "batch", `{"metadata":{"state":"BATCH_STATE_RUNNING"}}`, "", nil},
		{"a file", "file", `{"name":"files/f"}`, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mime, got := generatedFiles(tt.kind, []byte(tt.body))
			if mime != tt.mime || !slices.Equal(got, tt.want) {
				t.Fatalf("generatedFiles = %q, %q; want %q, %q", mime, got, tt.mime, tt.want)
			}
		})
	}
}

func TestCutVersion(t *testing.T) {
	tests := []struct {
		path, version, rest string
		ok                  bool
	}{
		{"/v1beta/files/abc", "v1beta", "files/abc", true},
		{"v1/models", "v1", "models", true},
		{"/v1alpha/", "v1alpha", "", true},
		{"/v2/files", "", "", false},
		{"/v1beta", "", "", false},
		{"", "", "", false},
	}
	for _, tt := range tests {
		v, r, ok := cutVersion(tt.path)
		if v != tt.version || r != tt.rest || ok != tt.ok {
			t.Errorf("cutVersion(%q) = %q, %q, %v; want %q, %q, %v", tt.path, v, r, ok, tt.version, tt.rest, tt.ok)
		}
		bv, br, bok := cutVersion([]byte(tt.path))
		if string(bv) != tt.version || string(br) != tt.rest || bok != tt.ok {
			t.Errorf("cutVersion([]byte %q) = %q, %q, %v; want %q, %q, %v", tt.path, bv, br, bok, tt.version, tt.rest, tt.ok)
		}
	}
}
