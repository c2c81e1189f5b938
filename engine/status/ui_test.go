package status_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/balanceproxy/balance/store"
)

// chromiumPath finds the headless browser the page test drives. CI
// installs Debian's chromium; a machine without it fails the test with
// instructions rather than skipping it silently.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("BALANCE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("the status page test needs chromium: apt-get install -y chromium (or set BALANCE_CHROMIUM)")
	return ""
}

// newBrowser starts a headless chromium with a throwaway profile and
// returns a context for chromedp actions, bounded by timeout.
func newBrowser(t *testing.T, timeout time.Duration) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-first-run", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(bctx, timeout)
	t.Cleanup(func() {
		cancelTimeout()
		cancelBrowser()
		cancelAlloc()
	})
	return ctx
}

// The status page in a real browser: the token in the URL becomes a
// cookie and leaves the address bar, the keys render with their state and
// a live cooldown countdown, the charts draw, the error log shows hostile
// strings as text, and no full key or token is anywhere in the page.
func TestStatusPageInBrowser(t *testing.T) {
	h := newHarness(t, false)
	// Key A is cooling (see snapshot); B served these.
	var recs []store.Request
	for i := range 4 {
		recs = append(recs, served(fmt.Sprint("ok-", i), "gemini-2.5-flash", keyB, 200))
	}
	for i := range 2 {
		recs = append(recs, served(fmt.Sprint("bad-", i), "gemini-2.5-pro", keyB, 400))
	}
	// A model name built to be markup, in the database however it got
	// there: it must show up as text.
	const hostile = `<img src=x id=pwned onerror="document.title='pwned'">`
	bad := served("hostile-1", hostile, keyB, 400)
	bad.ErrorBody = `{"error":{"message":"` + hostile + `"}}`
	h.record(append(recs, bad)...)

	ctx := newBrowser(t, 45*time.Second)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(h.url+"/status/ui?token="+url.QueryEscape(statusToken)),
		chromedp.WaitVisible(chromedp.CSS(`#keys tbody tr[data-key]`)),
		chromedp.WaitVisible(chromedp.CSS(`#chart-requests rect`)),
		chromedp.WaitVisible(chromedp.CSS(`#errors tbody td.mono`)),
	); err != nil {
		t.Fatalf("browser: %v", err)
	}
	str := func(a chromedp.Action[string]) string {
		t.Helper()
		v, err := chromedp.Run(ctx, a)
		if err != nil {
			t.Fatalf("browser: %v", err)
		}
		return v
	}
	count := func(js string) int {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[int](js))
		if err != nil {
			t.Fatalf("browser: %s: %v", js, err)
		}
		return v
	}
	href := str(chromedp.Location())
	cookie := str(chromedp.Evaluate[string](`document.cookie`))
	title := str(chromedp.Title())
	keyRows := count(`document.querySelectorAll('#keys tbody tr[data-key]').length`)
	bars := count(`document.querySelectorAll('#chart-requests rect').length`)
	countdowns := count(`document.querySelectorAll('#keys .countdown').length`)
	injected := count(`document.querySelectorAll('#pwned, #errors img, #errors b').length`)
	keysText := str(chromedp.Text(chromedp.CSS(`#keys tbody`)))
	// The open Live sessions per key, in their own column.
	liveB := str(chromedp.Evaluate[string](`(() => {
  const i = [...document.querySelectorAll('#keys thead th')].findIndex((th) => th.textContent === 'live sessions');
  const row = document.querySelector('#keys tbody tr[data-key="` + fpB + `"]');
  return i < 0 || !row ? 'no column or row' : row.cells[i].textContent;
})()`))
	errorsText := str(chromedp.Text(chromedp.CSS(`#errors tbody`)))
	html := str(chromedp.OuterHTML(chromedp.CSS(`html`)))
	if href != h.url+"/status/ui" {
		t.Errorf("address bar %q still carries the token or went elsewhere", href)
	}
	if cookie != "" {
		t.Errorf("the session cookie is readable from script: %q", cookie)
	}
	if title != "balance status" {
		t.Errorf("title %q (an injected handler ran?)", title)
	}
	if keyRows != 2 || bars < 60 {
		t.Errorf("%d key rows, %d chart bars", keyRows, bars)
	}
	for _, want := range []string{fpA, fpB, "cooling", "healthy"} {
		if !strings.Contains(keysText, want) {
			t.Errorf("key table lacks %q:\n%s", want, keysText)
		}
	}
	if liveB != "3" {
		t.Errorf("key B's live sessions cell shows %q, want 3", liveB)
	}
	if countdowns == 0 || !strings.Contains(keysText, "gemini-2.5-flash 1m") {
		t.Errorf("no cooldown countdown for the rate-limited key:\n%s", keysText)
	}
	if injected != 0 {
		t.Error("a model name was inserted as markup")
	}
	if !strings.Contains(errorsText, hostile) || !strings.Contains(errorsText, "client_error") {
		t.Errorf("error log does not show the hostile model as text:\n%s", errorsText)
	}
	if s := secretsIn([]byte(html + href)); len(s) > 0 {
		t.Errorf("the page holds secrets %v", s)
	}

	// The countdown ticks client-side without a refresh.
	// Timers in a loaded headless browser can fire late: give it a few
	// seconds to move rather than exactly one.
	before := str(chromedp.Text(chromedp.CSS(`#keys .countdown`)))
	moved := false
	for i := 0; i < 10 && !moved; i++ {
		if err := chromedp.Do(ctx, chromedp.Sleep(500*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		moved = str(chromedp.Text(chromedp.CSS(`#keys .countdown`))) != before
	}
	if !moved {
		t.Errorf("countdown did not move in 5 s: %q", before)
	}

	// Filtering the error log by class narrows it to nothing here.
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS(`#filters input[name=class]`), "rate_limited"),
		chromedp.Click(chromedp.CSS(`#filters button[type=submit]`)),
		chromedp.WaitVisible(`//table[@id="errors"]//td[contains(., "no errors")]`),
	); err != nil {
		t.Fatalf("filter: %v", err)
	}
	if rows := count(`document.querySelectorAll('#errors tbody td.mono').length`); rows != 0 {
		t.Errorf("class filter left %d rows", rows)
	}
}
