package mockgemini

import (
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/balanceproxy/balance/internal/jsonw"
)

// modelKind says which custom methods a model answers; asking a model for a
// method it lacks is a 404 NOT_FOUND, as upstream.
type modelKind uint8

const (
	kindGenerate modelKind = iota // generateContent, streamGenerateContent, countTokens
	kindEmbed                     // embedContent, batchEmbedContents, countTokens
	kindPredict                   // predict (Imagen)
	kindVideo                     // predictLongRunning (Veo, video.go)
)

// modelInfo is one entry of the mock's catalog. The fields mirror the
// Model resource of GET /v1beta/models.
type modelInfo struct {
	id          string
	version     string
	display     string
	description string
	inLimit     int
	outLimit    int
	methods     []string
	kind        modelKind
	// sampling defaults, omitted when zero (embedding / Imagen models)
	temperature, maxTemperature, topP float64
	topK                              int
	thinking                          bool
	// tts models answer only AUDIO (speech.go).
	tts bool
}

// catalog lists the models the mock knows, in the order models.list returns
// them. The values follow what the real API listed in 2026.
var catalog = []modelInfo{
	{id: "gemini-2.0-flash", version: "2.0", display: "Gemini 2.0 Flash", description: "Gemini 2.0 Flash",
		inLimit: 1048576, outLimit: 8192, methods: genMethods, temperature: 1, maxTemperature: 2, topP: 0.95, topK: 40},
	{id: "gemini-2.0-flash-lite", version: "2.0", display: "Gemini 2.0 Flash-Lite", description: "Gemini 2.0 Flash-Lite",
		inLimit: 1048576, outLimit: 8192, methods: genMethods, temperature: 1, maxTemperature: 2, topP: 0.95, topK: 40},
	{id: "gemini-2.5-flash", version: "001", display: "Gemini 2.5 Flash",
		description: "Stable version of Gemini 2.5 Flash, our mid-size multimodal model that supports up to 1 million tokens, released in June of 2025.",
		inLimit:     1048576, outLimit: 65536, methods: genMethods, temperature: 1, maxTemperature: 2, topP: 0.95, topK: 64, thinking: true},
	{id: "gemini-2.5-pro", version: "2.5", display: "Gemini 2.5 Pro",
		description: "Stable release (June 17th, 2025) of Gemini 2.5 Pro",
		inLimit:     1048576, outLimit: 65536, methods: genMethods, temperature: 1, maxTemperature: 2, topP: 0.95, topK: 64, thinking: true},
	{id: "gemini-2.5-flash-lite", version: "001", display: "Gemini 2.5 Flash-Lite",
		description: "Stable version of Gemini 2.5 Flash-Lite, released in July of 2025",
		inLimit:     1048576, outLimit: 65536, methods: genMethods, temperature: 1, maxTemperature: 2, topP: 0.95, topK: 64, thinking: true},
	{id: "gemini-2.5-flash-image", version: "2.0", display: "Nano Banana",
		description: "Gemini 2.5 Flash Image",
		inLimit:     32768, outLimit: 32768, methods: []string{"generateContent", "countTokens", "batchGenerateContent"}, temperature: 1, maxTemperature: 2, topP: 0.95, topK: 64},
	{id: "gemini-3-pro-preview", version: "3-pro-preview-11-2025", display: "Gemini 3 Pro Preview",
		description: "Gemini 3 Pro Preview",
		inLimit:     1048576, outLimit: 65536, methods: genMethods, temperature: 1, maxTemperature: 2, topP: 0.95, topK: 64, thinking: true},
	{id: "gemini-3-flash-preview", version: "3-flash-preview-12-2025", display: "Gemini 3 Flash Preview",
		description: "Gemini 3 Flash Preview",
		inLimit:     1048576, outLimit: 65536, methods: genMethods, temperature: 1, maxTemperature: 2, topP: 0.95, topK: 64, thinking: true},
	{id: "gemini-flash-latest", version: "Gemini Flash Latest", display: "Gemini Flash Latest",
		description: "Latest release of Gemini Flash",
		inLimit:     1048576, outLimit: 65536, methods: genMethods, temperature: 1, maxTemperature: 2, topP: 0.95, topK: 64, thinking: true},
	{id: "gemma-3-27b-it", version: "001", display: "Gemma 3 27B", description: "",
		inLimit: 131072, outLimit: 8192, methods: []string{"generateContent", "countTokens"}, temperature: 1, topP: 0.95, topK: 64},
	{id: "gemini-embedding-001", version: "001", display: "Gemini Embedding 001", description: "Obtain a distributed representation of a text.",
		inLimit: 2048, outLimit: 1, methods: []string{"embedContent", "countTextTokens", "countTokens", "asyncBatchEmbedContent"}, kind: kindEmbed},
	{id: "text-embedding-004", version: "004", display: "Text Embedding 004", description: "Obtain a distributed representation of a text.",
		inLimit: 2048, outLimit: 1, methods: []string{"embedContent"}, kind: kindEmbed},
	{id: "imagen-4.0-generate-001", version: "001", display: "Imagen 4", description: "Vertex served Imagen 4.0 model",
		inLimit: 480, outLimit: 8192, methods: []string{"predict"}, kind: kindPredict},
	{id: "imagen-4.0-fast-generate-001", version: "001", display: "Imagen 4 Fast", description: "Vertex served Imagen 4.0 Fast model",
		inLimit: 480, outLimit: 8192, methods: []string{"predict"}, kind: kindPredict},
	{id: "veo-3.0-generate-001", version: "3.0", display: "Veo 3", description: "Veo 3",
		inLimit: 480, outLimit: 8192, methods: []string{"predictLongRunning"}, kind: kindVideo},
	{id: "gemini-2.5-flash-preview-tts", version: "gemini-2.5-flash-exp-tts-2025-05-19", display: "Gemini 2.5 Flash Preview TTS", description: "Gemini 2.5 Flash Preview TTS",
		inLimit: 8192, outLimit: 16384, methods: []string{"countTokens", "generateContent"}, temperature: 1, maxTemperature: 2, topP: 0.95, topK: 64, tts: true},
	{id: "gemini-2.5-pro-preview-tts", version: "gemini-2.5-pro-preview-tts-2025-05-19", display: "Gemini 2.5 Pro Preview TTS", description: "Gemini 2.5 Pro Preview TTS",
		inLimit: 8192, outLimit: 16384, methods: []string{"countTokens", "generateContent"}, temperature: 1, maxTemperature: 2, topP: 0.95, topK: 64, tts: true},
	{id: "gemini-3.1-flash-tts-preview", version: "3.1-flash-tts-preview", display: "Gemini 3.1 Flash TTS Preview", description: "Gemini 3.1 Flash TTS Preview",
		inLimit: 8192, outLimit: 16384, methods: []string{"countTokens", "generateContent"}, temperature: 1, maxTemperature: 2, topP: 0.95, topK: 64, tts: true},
}

var genMethods = []string{"generateContent", "countTokens", "createCachedContent", "batchGenerateContent"}

var catalogIndex = func() map[string]*modelInfo {
	m := make(map[string]*modelInfo, len(catalog))
	for i := range catalog {
		m[catalog[i].id] = &catalog[i]
	}
	return m
}()

// lookupModel finds a catalog model by bare id; the map index with a
// []byte-to-string conversion does not allocate.
func lookupModel(id []byte) *modelInfo { return catalogIndex[string(id)] }

func appendFloat(dst []byte, f float64) []byte { return strconv.AppendFloat(dst, f, 'f', -1, 64) }

// appendModel appends the compact Model resource.
func appendModel(dst []byte, m *modelInfo) []byte {
	dst = appendKey(append(dst, '{'), "name")
	dst = jsonw.AppendMarshal(dst, "models/"+m.id)
	dst = appendKey(append(dst, ','), "version")
	dst = jsonw.AppendMarshal(dst, m.version)
	dst = appendKey(append(dst, ','), "displayName")
	dst = jsonw.AppendMarshal(dst, m.display)
	if m.description != "" {
		dst = appendKey(append(dst, ','), "description")
		dst = jsonw.AppendMarshal(dst, m.description)
	}
	dst = appendKey(append(dst, ','), "inputTokenLimit")
	dst = appendInt(dst, m.inLimit)
	dst = appendKey(append(dst, ','), "outputTokenLimit")
	dst = appendInt(dst, m.outLimit)
	dst = appendKey(append(dst, ','), "supportedGenerationMethods")
	dst = append(dst, '[')
	for i, meth := range m.methods {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsonw.AppendMarshal(dst, meth)
	}
	dst = append(dst, ']')
	if m.temperature != 0 {
		dst = appendKey(append(dst, ','), "temperature")
		dst = appendFloat(dst, m.temperature)
		dst = appendKey(append(dst, ','), "topP")
		dst = appendFloat(dst, m.topP)
		dst = appendKey(append(dst, ','), "topK")
		dst = appendInt(dst, m.topK)
	}
	if m.maxTemperature != 0 {
		dst = appendKey(append(dst, ','), "maxTemperature")
		dst = appendFloat(dst, m.maxTemperature)
	}
	if m.thinking {
		dst = appendKey(append(dst, ','), "thinking")
		dst = append(dst, "true"...)
	}
	return append(dst, '}')
}

// Page tokens are opaque to clients; the mock encodes the next offset so a
// token from one server is meaningful to any other instance.
const pageTokenPrefix = "mockgemini/offset/"

func encodePageToken(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(pageTokenPrefix + strconv.Itoa(offset)))
}

func decodePageToken(tok string) (int, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || !strings.HasPrefix(string(raw), pageTokenPrefix) {
		return 0, false
	}
	n, err := strconv.Atoi(string(raw[len(pageTokenPrefix):]))
	if err != nil || n < 0 || n > len(catalog) {
		return 0, false
	}
	return n, true
}

// appendModelsPage appends the compact models.list page starting at offset.
// nextPageToken is omitted on the last page: an empty token would make
// @google/genai's pager loop forever.
func appendModelsPage(dst []byte, offset, size int) []byte {
	end := offset + size
	if end > len(catalog) {
		end = len(catalog)
	}
	dst = appendKey(append(dst, '{'), "models")
	dst = append(dst, '[')
	for i := offset; i < end; i++ {
		if i > offset {
			dst = append(dst, ',')
		}
		dst = appendModel(dst, &catalog[i])
	}
	dst = append(dst, ']')
	if end < len(catalog) {
		dst = appendKey(append(dst, ','), "nextPageToken")
		dst = jsonw.AppendMarshal(dst, encodePageToken(end))
	}
	return append(dst, '}')
}

// thinkingByDefault reports whether the model thinks when the request says
// nothing: every 2.5 / 3 text model except the -lite and -image variants.
func (m *modelInfo) thinkingByDefault() bool {
	return m.thinking && !strings.Contains(m.id, "-lite")
}

// canDisableThinking reports whether thinkingBudget 0 switches thinking off
// (2.5 Pro and Gemini 3 always think).
func (m *modelInfo) canDisableThinking() bool {
	return !strings.Contains(m.id, "-pro") && !strings.HasPrefix(m.id, "gemini-3")
}

func (m *modelInfo) isGemini3() bool { return strings.HasPrefix(m.id, "gemini-3") }
