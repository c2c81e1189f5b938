package upstream

import (
	"crypto/tls"
	"net"
	"strings"
)

// NetDialer returns the function that opens connections to an upstream
// the way its HTTP client does: directly, or through the key's egress
// proxy (HTTP CONNECT or SOCKS5). WebSocket dials (the Live API) use it so
// a session leaves through the same proxy as the key's HTTP calls.
func NetDialer(proxy string) (func(addr string) (net.Conn, error), error) {
	d, err := dialer(proxy, false)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// WebSocketURL is the ws:// or wss:// URL of path on the target, under its
// base URL's path.
func (t Target) WebSocketURL(path string) string {
	scheme := "ws://"
	if t.TLS {
		scheme = "wss://"
	}
	return scheme + t.Host + t.PathPrefix + "/" + strings.TrimLeft(path, "/")
}

// TLSConfig is what a WebSocket dial to the target verifies, as the
// target's HTTP client does.
func (t Target) TLSConfig() *tls.Config {
	return &tls.Config{ServerName: hostOnly(t.Host), MinVersion: tls.VersionTLS12}
}
