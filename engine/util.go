package engine

import (
	"sort"

	"github.com/balanceproxy/balance/engine/gemini"
)

func sorted(s []string) []string {
	sort.Strings(s)
	return s
}

func classByName(name string) gemini.Class {
	switch name {
	case "rate_limited":
		return gemini.RateLimited
	case "invalid_key":
		return gemini.InvalidKey
	case "permission_denied":
		return gemini.PermissionDenied
	case "server_error":
		return gemini.ServerError
	case "timeout":
		return gemini.Timeout
	case "connection":
		return gemini.Connection
	}
	return gemini.OK
}
