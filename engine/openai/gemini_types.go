package openai

import "encoding/json"

// Gemini request types: only what the translation emits. Field names follow
// the Gemini REST API (camelCase). RawMessage fields carry client JSON that
// was validated but need not be rebuilt (function args, schemas).

type gRequest struct {
	Contents          []*gContent       `json:"contents"`
	SystemInstruction *gContent         `json:"systemInstruction,omitempty"`
	Tools             []gTool           `json:"tools,omitempty"`
	ToolConfig        *gToolConfig      `json:"toolConfig,omitempty"`
	SafetySettings    json.RawMessage   `json:"safetySettings,omitempty"`
	GenerationConfig  *gGenConfig       `json:"generationConfig,omitempty"`
	CachedContent     string            `json:"cachedContent,omitempty"`
	Labels            map[string]string `json:"labels,omitempty"`
}

type gContent struct {
	Role  string  `json:"role,omitempty"`
	Parts []gPart `json:"parts"`
}

type gPart struct {
	Text             string             `json:"text,omitempty"`
	InlineData       *gBlob             `json:"inlineData,omitempty"`
	FileData         *gFileData         `json:"fileData,omitempty"`
	FunctionCall     *gFunctionCall     `json:"functionCall,omitempty"`
	FunctionResponse *gFunctionResponse `json:"functionResponse,omitempty"`
	ThoughtSignature string             `json:"thoughtSignature,omitempty"`
}

type gBlob struct {
	MimeType string `json:"mimeType"`
	Data     string `json:"data"`
}

type gFileData struct {
	MimeType string `json:"mimeType,omitempty"`
	FileURI  string `json:"fileUri"`
}

type gFunctionCall struct {
	ID   string          `json:"id,omitempty"`
	Name string          `json:"name"`
	Args json.RawMessage `json:"args,omitempty"`
}

type gFunctionResponse struct {
	ID       string          `json:"id,omitempty"`
	Name     string          `json:"name"`
	Response json.RawMessage `json:"response"`
}

type gTool struct {
	FunctionDeclarations []gFunctionDecl `json:"functionDeclarations,omitempty"`
	GoogleSearch         *struct{}       `json:"googleSearch,omitempty"`
}

type gFunctionDecl struct {
	Name                 string          `json:"name"`
	Description          string          `json:"description,omitempty"`
	ParametersJSONSchema json.RawMessage `json:"parametersJsonSchema,omitempty"`
}

type gToolConfig struct {
	FunctionCallingConfig gFunctionCallingConfig `json:"functionCallingConfig"`
}

type gFunctionCallingConfig struct {
	Mode                 string   `json:"mode"`
	AllowedFunctionNames []string `json:"allowedFunctionNames,omitempty"`
}

type gGenConfig struct {
	Temperature        *float64        `json:"temperature,omitempty"`
	TopP               *float64        `json:"topP,omitempty"`
	TopK               *int            `json:"topK,omitempty"`
	CandidateCount     int             `json:"candidateCount,omitempty"`
	MaxOutputTokens    int64           `json:"maxOutputTokens,omitempty"`
	StopSequences      []string        `json:"stopSequences,omitempty"`
	PresencePenalty    *float64        `json:"presencePenalty,omitempty"`
	FrequencyPenalty   *float64        `json:"frequencyPenalty,omitempty"`
	Seed               *int32          `json:"seed,omitempty"`
	ResponseMimeType   string          `json:"responseMimeType,omitempty"`
	ResponseJSONSchema json.RawMessage `json:"responseJsonSchema,omitempty"`
	ThinkingConfig     *gThinking      `json:"thinkingConfig,omitempty"`
}

type gThinking struct {
	ThinkingBudget  *int   `json:"thinkingBudget,omitempty"`
	ThinkingLevel   string `json:"thinkingLevel,omitempty"`
	IncludeThoughts bool   `json:"includeThoughts,omitempty"`
}

func (c *gGenConfig) empty() bool {
	return c.Temperature == nil && c.TopP == nil && c.TopK == nil && c.CandidateCount == 0 &&
		c.MaxOutputTokens == 0 && len(c.StopSequences) == 0 && c.PresencePenalty == nil &&
		c.FrequencyPenalty == nil && c.Seed == nil && c.ResponseMimeType == "" &&
		len(c.ResponseJSONSchema) == 0 && c.ThinkingConfig == nil
}
