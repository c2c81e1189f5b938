// Package openai translates between the OpenAI HTTP API (chat completions,
// the Responses API, embeddings, images, models) and the Gemini REST API.
//
// It is a pure library: no networking except the optional remote image
// fetcher used for http(s) image_url parts, which the caller injects through
// Options.ImageFetcher. The engine owns routing, the key pool and timing;
// this package owns only the bytes:
//
//   - TranslateChatRequest turns an OpenAI chat body into a Gemini
//     GenerateContentRequest and validates it, so bad input is a 400 in
//     OpenAI's error shape before any upstream call is spent.
//   - TranslateChatResponse and StreamTranslator turn Gemini answers back
//     into chat.completion objects or chat.completion.chunk SSE frames.
//   - TranslateResponsesRequest, TranslateResponsesResponse and
//     ResponsesTranslator do the same for the Responses API; its request
//     is restated in chat's shape wherever chat has the concept (sampling,
//     text.format, reasoning effort, function tools), so both share one
//     set of checks and conversions.
//   - ErrorFromGemini keeps Google's real HTTP status but speaks OpenAI's
//     error shape, the only one the OpenAI SDKs read (it also unwraps the
//     array-shaped errors of Google's OpenAI-compatible endpoint); NewError
//     is the same shape for balance's own refusals.
//
// Both directions are built by appending bytes, not by encoding/json. A
// request of the common shape (text messages, sampling parameters, function
// tools with schemas that need no rewriting) is read in one gjson pass
// (fastreq.go); anything else, including every request that is an error,
// takes the general decoder, and FuzzFastChatRequest holds the two to
// byte-identical output. Answers are read with one pass per JSON object and
// unary translators are pooled.
//
// Thought signatures (Gemini 3 needs them echoed on function calls) survive
// the OpenAI round trip in two places at once: the tool call id
// ("call_…__ts_<base64url>") and extra_content.google.thought_signature, the
// field Google's own compat endpoint uses. Either is accepted on the way in.
package openai
