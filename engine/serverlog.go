package engine

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/balanceproxy/balance/internal/secret"
)

// fasthttpLogger routes fasthttp's own messages to balance's logger. They
// describe requests fasthttp rejects before the handler runs, and quote
// what the client sent: the request URI, a header value, a malformed
// header line, or (for a request line without a second space) the whole
// header block. So every message passes the live generation's Redactor
// (pool keys, client tokens, the status and metrics tokens, by their
// status names) and then secret.ScrubCredentials (anything else that looks
// like a credential), and a header value fasthttp quotes without its name
// is fingerprinted whatever it is.
type fasthttpLogger struct {
	log *slog.Logger
	rt  *atomic.Pointer[Runtime]
}

// maxFasthttpLog bounds one message: fasthttp may quote a whole header
// block, and a hostile client chooses how much of it there is.
const maxFasthttpLog = 1024

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.log.Warn(redactFasthttp(l.rt.Load(), fmt.Sprintf(format, args...)), "component", "fasthttp")
}

// redactFasthttp makes a fasthttp message (a log line or an error's text)
// safe to log or show: see fasthttpLogger.
func redactFasthttp(rt *Runtime, msg string) string {
	if rt != nil {
		msg = rt.redactor.String(msg)
	}
	msg = fingerprintQuoted(msg, "invalid header value ", "invalid trailer value ")
	msg = secret.ScrubCredentials(msg)
	if len(msg) > maxFasthttpLog {
		cut := maxFasthttpLog
		for cut > 0 && msg[cut]&0xC0 == 0x80 { // not inside a UTF-8 sequence
			cut--
		}
		msg = msg[:cut] + "…(clipped)"
	}
	return msg
}

// fingerprintQuoted replaces the Go-quoted string after each prefix with
// its fingerprint, unless the Redactor already named it.
func fingerprintQuoted(msg string, prefixes ...string) string {
	for _, p := range prefixes {
		for off := 0; ; {
			i := strings.Index(msg[off:], p+`"`)
			if i < 0 {
				break
			}
			start := off + i + len(p)
			q, err := strconv.QuotedPrefix(msg[start:])
			if err != nil {
				break
			}
			off = start + len(q)
			v, err := strconv.Unquote(q)
			if err != nil || v == "" || strings.Contains(v, "…") {
				continue
			}
			fp := strconv.Quote(secret.Fingerprint(v))
			msg = msg[:start] + fp + msg[off:]
			off = start + len(fp)
		}
	}
	return msg
}
