package engine_test

import (
	"context"
	"fmt"
	"hash/crc32"
	"net/http"
	"net/url"
	"path"
	"strings"
	"testing"

	"google.golang.org/genai"

	"github.com/balanceproxy/balance/internal/mockgemini"
	"github.com/tidwall/gjson"
)

const veoModel = "veo-3.0-generate-001"

// videoConfig is filesConfig with an alias for Veo and a token that may
// use only Gemini models.
func videoConfig(extra string) string {
	return filesConfig(filesKeys, `
model "veo" { target = "`+veoModel+`" }
token "textonly" {
  secret = "`+textOnlyToken+`"
  pools  = ["main"]
  models = ["gemini-*"]
}
`+extra)
}

const textOnlyToken = "sk-test-text-only-token"

// startVideo starts a video through client and returns its operation and
// the key of filesKeys that created it (the one key the call reached).
func startVideo(t *testing.T, mock *mockgemini.Server, client *genai.Client, model string) (*genai.GenerateVideosOperation, string) {
	t.Helper()
	before := perKey(mock, filesKeys)
	op, err := client.Models.GenerateVideosFromSource(context.Background(), model, &genai.GenerateVideosSource{Prompt: "a cat surfing"}, &genai.GenerateVideosConfig{NumberOfVideos: 2})
	if err != nil {
		t.Fatalf("generate videos: %v", err)
	}
	if !strings.HasPrefix(op.Name, "models/"+veoModel+"/operations/") || op.Done {
		t.Fatalf("operation %+v", op)
	}
	owner := ""
	for i, n := range perKey(mock, filesKeys) {
		if n != before[i] {
			owner = filesKeys[i]
		}
	}
	return op, owner
}

// pollVideo polls op through client until it is done and returns the
// done operation and how many polls it took.
func pollVideo(t *testing.T, client *genai.Client, op *genai.GenerateVideosOperation) (*genai.GenerateVideosOperation, int) {
	t.Helper()
	polls := 0
	for !op.Done {
		if polls++; polls > 10 {
			t.Fatalf("operation %s not done after 10 polls", op.Name)
		}
		var err error
		if op, err = client.Operations.GetVideosOperation(context.Background(), op, nil); err != nil {
			t.Fatalf("poll %d: %v", polls, err)
		}
	}
	if op.Response == nil || len(op.Response.GeneratedVideos) != 2 {
		t.Fatalf("done operation: %+v", op.Response)
	}
	return op, polls
}

// videoFile is the file a generated video's URI downloads ("files/ID").
func videoFile(t *testing.T, v *genai.GeneratedVideo) string {
	t.Helper()
	u, err := url.Parse(v.Video.URI)
	if err != nil {
		t.Fatal(err)
	}
	return "files/" + strings.TrimSuffix(path.Base(u.Path), ":download")
}

// downloadVideos downloads every video of a done operation through
// client and checks its bytes against what the mock generated for owner.
func downloadVideos(t *testing.T, mock *mockgemini.Server, client *genai.Client, op *genai.GenerateVideosOperation, owner string) {
	t.Helper()
	for _, v := range op.Response.GeneratedVideos {
		// The SDK hands back an error's body as the file: only the bytes tell.
		data, err := client.Files.Download(context.Background(), genai.NewDownloadURIFromGeneratedVideo(v), nil)
		info, ok := mock.File(videoFile(t, v))
		if err != nil || !ok || info.Key != owner || int64(len(data)) != info.Size || crc32.ChecksumIEEE(data) != info.CRC32 {
			t.Fatalf("download of %s: %d bytes, %v; mock holds %+v (%v)", v.Video.URI, len(data), err, info, ok)
		}
	}
}

// Veo through balance with the official Go SDK and a round-robin pool of
// 3 keys: GenerateVideos lands on one key, and every poll of its
// operation, every download of the videos it made (through the SDK and
// with a plain GET; behind https the operation names balance's URI) and
// every extension of one goes to that key only (the mock answers 404 to another key's poll,
// 403 to its download or extension, as Google does). The create goes
// through the model rules like any model call: the alias reaches Google
// as its target.
func TestVideoThroughPoolWithGoSDK(t *testing.T) {
	const doneAfter = 4 // more polls than keys: unpinned, some would miss
	mock := mockgemini.Start(t, mockgemini.Options{VideoDoneAfter: doneAfter})
	_, url := startProxy(t, mock, t.TempDir(), videoConfig(""))
	for _, tc := range []struct {
		name, base, model string
		https             bool // behind a TLS proxy: X-Forwarded-Proto: https
	}{
		{"bare", url, veoModel, false},
		{"gemini alias", url + "/gemini", "veo", false},
		{"behind https", url + "/gemini", veoModel, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := genaiClient(t, tc.base, testToken)
			if tc.https {
				var err error
				client, err = genai.NewClient(context.Background(), &genai.ClientConfig{
					APIKey: testToken, Backend: genai.BackendGeminiAPI,
					HTTPOptions: genai.HTTPOptions{BaseURL: tc.base, APIVersion: "v1beta", Headers: http.Header{"X-Forwarded-Proto": {"https"}}},
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			op, owner := startVideo(t, mock, client, tc.model)
			if owner == "" || !strings.HasSuffix(mock.LastRequest().Path, "/models/"+veoModel+":predictLongRunning") {
				t.Fatalf("create reached %s (owner %q)", mock.LastRequest().Path, owner)
			}
			before := perKey(mock, filesKeys)
			op, polls := pollVideo(t, client, op)
			if polls != doneAfter {
				t.Fatalf("done after %d polls, want %d", polls, doneAfter)
			}
			downloadVideos(t, mock, client, op, owner)
			// Without an SDK. Behind https the URI the operation names is
			// balance's, on the client's prefix; over plain HTTP it stays
			// Google's (the Node and Python SDKs read a file name only from
			// an https URI), and the same path on balance downloads it.
			for _, v := range op.Response.GeneratedVideos {
				local := tc.base + "/v1beta/" + videoFile(t, v) + ":download?alt=media"
				want := "https://generativelanguage.googleapis.com/v1beta/" + videoFile(t, v) + ":download?alt=media"
				if tc.https {
					want = strings.Replace(local, "http://", "https://", 1)
				}
				if v.Video.URI != want {
					t.Fatalf("video URI %s, want %s", v.Video.URI, want)
				}
				info, _ := mock.File(videoFile(t, v))
				if status, sum, n := get(t, local, testToken); status != 200 || n != info.Size || sum != info.CRC32 {
					t.Fatalf("GET %s: %d, %d bytes; mock holds %+v", local, status, n, info)
				}
			}
			downloads := 2 * len(op.Response.GeneratedVideos)
			onlyOwner(t, filesKeys, before, perKey(mock, filesKeys), owner, int64(polls+downloads))

			// Extending a video names it, so the generation goes to its key.
			before = perKey(mock, filesKeys)
			extend := &genai.GenerateVideosSource{Prompt: "and then", Video: op.Response.GeneratedVideos[0].Video}
			for i := range 3 {
				if _, err := client.Models.GenerateVideosFromSource(context.Background(), tc.model, extend, nil); err != nil {
					t.Fatalf("extension %d: %v", i, err)
				}
				// The video goes back to Google in Google's form: on its
				// own host, not balance's.
				sent := gjson.GetBytes(mock.LastRequest().Body, "instances.0.video.uri").Str
				if !strings.HasPrefix(sent, mock.URL()+"/v1beta/files/") {
					t.Fatalf("extension %d sent the video as %q, want it under %s", i, sent, mock.URL())
				}
			}
			onlyOwner(t, filesKeys, before, perKey(mock, filesKeys), owner, 3)
		})
	}
}

// An operation and its videos are the token's that started it: another
// token's poll, download or extension, an unknown operation and a token
// that may not use Veo get balance's own refusal, with no upstream call.
func TestVideoRefusalsCostNoUpstreamCall(t *testing.T) {
	mock := mockgemini.Start(t, mockgemini.Options{})
	_, url := startProxy(t, mock, t.TempDir(), videoConfig(""))
	client := genaiClient(t, url, testToken)
	op, _ := startVideo(t, mock, client, veoModel)
	op, _ = pollVideo(t, client, op)
	video := videoFile(t, op.Response.GeneratedVideos[0])

	total := mock.Total()
	other := genaiClient(t, url, otherToken)
	if _, err := other.Operations.GetVideosOperation(context.Background(), op, nil); apiCode(err) != 404 {
		t.Fatalf("another token's poll: %v", err)
	}
	unknown := &genai.GenerateVideosOperation{Name: "models/" + veoModel + "/operations/unknown1"}
	if _, err := client.Operations.GetVideosOperation(context.Background(), unknown, nil); apiCode(err) != 404 {
		t.Fatalf("an unknown operation's poll: %v", err)
	}
	_, err := genaiClient(t, url, textOnlyToken).Models.GenerateVideosFromSource(context.Background(), veoModel, &genai.GenerateVideosSource{Prompt: "x"}, nil)
	if apiCode(err) != 403 {
		t.Fatalf("a token without Veo: %v", err)
	}
	extend := &genai.GenerateVideosSource{Prompt: "and then", Video: op.Response.GeneratedVideos[0].Video}
	if _, err := other.Models.GenerateVideosFromSource(context.Background(), veoModel, extend, nil); apiCode(err) != 404 {
		t.Fatalf("another token's extension: %v", err)
	}
	for _, tc := range []struct {
		name, path, token string
		want              int
	}{
		{"another token's download", "/v1beta/" + video + ":download?alt=media", otherToken, 404},
		{"another token's poll", "/gemini/v1beta/" + op.Name, otherToken, 404},
		{"a bad operation id", "/v1beta/models/" + veoModel + "/operations/bad.id", testToken, 400},
		{"a bad model", "/v1beta/models/veo!/operations/op1", testToken, 400},
	} {
		if status, _, _ := get(t, url+tc.path, tc.token); status != tc.want {
			t.Fatalf("%s: %d, want %d", tc.name, status, tc.want)
		}
	}
	if n := mock.Total() - total; n != 0 {
		t.Fatalf("%d refused calls reached the upstream", n)
	}
}

// Two instances on one MySQL database: a video started through A is
// polled and downloaded through B, on the key that started it.
func TestVideoStartedThroughOneInstancePolledThroughAnother(t *testing.T) {
	dsn := freshMySQL(t, "balance_video_")
	mock := mockgemini.Start(t, mockgemini.Options{VideoDoneAfter: 4})
	cfg := videoConfig(fmt.Sprintf(`store {
  driver = "mysql"
  dsn    = "%s"
}`, dsn))
	_, urlA := startProxy(t, mock, t.TempDir(), cfg)
	_, urlB := startProxy(t, mock, t.TempDir(), cfg)
	op, owner := startVideo(t, mock, genaiClient(t, urlA, testToken), veoModel)
	b := genaiClient(t, urlB+"/gemini", testToken)
	before := perKey(mock, filesKeys)
	op, polls := pollVideo(t, b, op)
	downloadVideos(t, mock, b, op, owner)
	onlyOwner(t, filesKeys, before, perKey(mock, filesKeys), owner, int64(polls+len(op.Response.GeneratedVideos)))
}
