package openai

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// ImageFetcher downloads an image referenced by URL in a chat message.
// Implementations must honour ctx and bound time and size.
type ImageFetcher interface {
	Fetch(ctx context.Context, url string) (data []byte, mimeType string, err error)
}

// DefaultFetcher is used when Options.ImageFetcher is nil: 10 s, 20 MB
// (Gemini's inline request limit).
var DefaultFetcher ImageFetcher = NewSafeFetcher(10*time.Second, 20<<20)

// SafeFetcher fetches public http(s) images. It refuses loopback, private,
// link-local, CGNAT and other non-public addresses at dial time — after DNS
// resolution, on every connection including redirects — so a hostname that
// resolves (or re-resolves, DNS rebinding) to an internal address is
// refused too. Environment proxies are ignored for the same reason.
type SafeFetcher struct {
	client   *http.Client
	timeout  time.Duration
	maxBytes int64
	// allow decides whether an address may be dialled; tests swap it to
	// reach their loopback servers.
	allow func(netip.Addr) bool
}

// NewSafeFetcher returns a fetcher with a whole-request timeout and a body
// size cap.
func NewSafeFetcher(timeout time.Duration, maxBytes int64) *SafeFetcher {
	f := &SafeFetcher{timeout: timeout, maxBytes: maxBytes, allow: publicAddr}
	d := &net.Dialer{
		Timeout: timeout,
		Control: func(network, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			ip, err := netip.ParseAddr(host)
			if err != nil {
				return fmt.Errorf("dial %s: not an IP address", address)
			}
			if !f.allow(ip.Unmap()) {
				return fmt.Errorf("address %s is not public", ip)
			}
			return nil
		},
	}
	f.client = &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           d.DialContext,
			TLSHandshakeTimeout:   timeout,
			ResponseHeaderTimeout: timeout,
			MaxIdleConns:          16,
			IdleConnTimeout:       30 * time.Second,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("too many redirects")
			}
			if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
				return fmt.Errorf("redirect to unsupported scheme %q", req.URL.Scheme)
			}
			return nil
		},
	}
	return f
}

// Fetch downloads url. The content type is the server's when it names an
// image, else sniffed from the bytes; non-images are refused.
func (f *SafeFetcher) Fetch(ctx context.Context, url string) ([]byte, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, "", fmt.Errorf("bad image URL: %w", err)
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return nil, "", fmt.Errorf("unsupported scheme %q", req.URL.Scheme)
	}
	req.Header.Set("Accept", "image/*")
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("fetch %s: %w", req.URL.Redacted(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("fetch %s: HTTP %d", req.URL.Redacted(), resp.StatusCode)
	}
	if resp.ContentLength > f.maxBytes {
		return nil, "", fmt.Errorf("image is %d bytes, limit %d", resp.ContentLength, f.maxBytes)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, f.maxBytes+1))
	if err != nil {
		return nil, "", fmt.Errorf("read %s: %w", req.URL.Redacted(), err)
	}
	if int64(len(data)) > f.maxBytes {
		return nil, "", fmt.Errorf("image exceeds the %d byte limit", f.maxBytes)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if !strings.HasPrefix(mt, "image/") {
		mt = http.DetectContentType(data)
		if i := strings.IndexByte(mt, ';'); i >= 0 {
			mt = mt[:i]
		}
	}
	if mt == "image/jpg" {
		mt = "image/jpeg"
	}
	if !strings.HasPrefix(mt, "image/") {
		return nil, "", fmt.Errorf("%s is not an image (%s)", req.URL.Redacted(), mt)
	}
	return data, mt, nil
}

var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"), // CGNAT
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"), // NAT64 can reach internal IPv4
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("2001:db8::/32"),
}

// publicAddr reports whether ip is a globally routable unicast address.
func publicAddr(ip netip.Addr) bool {
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}
