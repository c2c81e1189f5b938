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
	case "server_error":
		return gemini.ServerError
	case "timeout":
		return gemini.Timeout
	case "connection":
		return gemini.Connection
	}
	return gemini.OK
}
