package keypool

import (
	"context"
	"sync"
	"time"
)

// ProbeFunc checks one quarantined key with a cheap upstream call. It
// returns nil when the key works again, or the reason it still does not.
// maxBackoff caps the wait before the next probe of this key.
type ProbeFunc func(ctx context.Context, k *Key) (maxBackoff time.Duration, err error)

// RunProber re-checks quarantined keys until ctx ends. Every tick it probes
// the keys whose probe is due, at most `parallel` at once, and restores
// those that answer. It returns when ctx is done and its probes finished.
func (r *Registry) RunProber(ctx context.Context, tick time.Duration, parallel int, probe ProbeFunc) {
	if parallel < 1 {
		parallel = 1
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			for _, k := range r.probeCandidates(now) {
				// Push the next probe out first, so a slow probe is not
				// started again on the next tick.
				k.mu.Lock()
				k.nextProbe = now.Add(time.Hour)
				k.mu.Unlock()
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					return
				}
				wg.Add(1)
				go func(k *Key) {
					defer wg.Done()
					defer func() { <-sem }()
					pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
					defer cancel()
					maxBackoff, err := probe(pctx, k)
					if err == nil {
						k.Restore()
						return
					}
					k.probeFailed(time.Now(), maxBackoff, err.Error())
				}(k)
			}
		}
	}
}
