//go:build wasip1

// Command actions is the test guest for package hooks: its behaviour is
// chosen per hook by config.mode, so one build covers every action, phase
// and failure the host must handle.
package main

import (
	"errors"
	"os"
	"strconv"
	"strings"

	"github.com/balanceproxy/balance/hooks/guest"
)

var calls int

func handle(in *guest.Envelope) (*guest.Result, error) {
	calls++
	mode := in.Header("x-mode")
	if mode == "" {
		mode = in.ConfigValue("mode").String()
	}
	switch mode {
	case "respond":
		return guest.Respond(200, []byte(`{"answered":"`+string(in.Phase())+`"}`)), nil
	case "reject":
		return guest.Reject(403, guest.ErrorBody(in.Protocol(), 403, "blocked by test")), nil
	case "headers":
		return &guest.Result{
			SetHeaders:    map[string]string{"x-hook": string(in.Phase())},
			RemoveHeaders: []string{"x-drop"},
		}, nil
	case "model":
		b, err := guest.SetString(in.Body(), "model", in.ConfigValue("model").String())
		return guest.ReplaceBody(b), err
	case "set":
		// config.path gets config.value, whatever JSON it is.
		b, err := guest.SetRaw(in.Body(), in.ConfigValue("path").String(), []byte(in.ConfigValue("value").Raw))
		return guest.ReplaceBody(b), err
	case "upper":
		b, err := guest.ReplaceTexts(in.Protocol(), in.Body(), strings.ToUpper)
		return guest.ReplaceBody(b), err
	case "echo":
		b := []byte(`{"phase":`)
		b = guest.AppendString(b, string(in.Phase()))
		for _, kv := range [][2]string{
			{"route", in.Route()}, {"protocol", in.Protocol()}, {"pool", in.Pool()},
			{"model", in.Model()}, {"token", in.Token().Name}, {"team", in.Token().Label("team")},
			{"ua", in.Header("user-agent")}, {"headers", headerNames(in)},
			{"body", string(in.Body())}, {"config", string(in.Config())},
		} {
			b = append(b, ',')
			b = guest.AppendString(b, kv[0])
			b = append(b, ':')
			b = guest.AppendString(b, kv[1])
		}
		b = append(b, '}')
		return guest.Respond(200, b), nil
	case "count":
		return guest.Respond(200, []byte(`{"calls":`+strconv.Itoa(calls)+`}`)), nil
	case "log":
		for i := 0; i < 100; i++ {
			guest.Log(guest.LevelInfo, "hello from guest "+strconv.Itoa(i))
		}
		return nil, nil
	case "print":
		os.Stdout.WriteString("debug: handled " + string(in.Phase()) + "\n")
		return guest.Continue(), nil
	case "error":
		return nil, errors.New("handler says no")
	case "badjson":
		return &guest.Result{Action: "explode"}, nil
	case "panic":
		var m map[string]int
		m["boom"]++
		return nil, nil
	case "spin":
		for {
			calls++
		}
	case "hog":
		// Allocate until out of memory, writing to every page as a real
		// workload would (untouched pages cost the host nothing).
		var keep [][]byte
		for {
			b := make([]byte, 1<<20)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			keep = append(keep, b)
			calls += len(keep)
		}
	}
	return guest.Continue(), nil
}

func headerNames(in *guest.Envelope) string {
	var names []string
	for k := range in.Headers() {
		names = append(names, k)
	}
	// Sorted for stable assertions.
	for i := range names {
		for j := i + 1; j < len(names); j++ {
			if names[j] < names[i] {
				names[i], names[j] = names[j], names[i]
			}
		}
	}
	return strings.Join(names, ",")
}

func init() {
	guest.OnRequest(handle)
	guest.OnResponse(handle)
	guest.OnChunk(handle)
}

func main() {}
