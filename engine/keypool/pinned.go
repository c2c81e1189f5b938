package keypool

import "time"

// Use marks the member whose key has the given Hash in use, as Pick does
// for the key it chooses, for a request that can only go through that key
// (a Live session on an ephemeral token the key minted: the token is valid
// for that key's project alone). It ignores cooldowns, since no other key
// could serve; call Key.End when the request finishes. It returns nil when
// no member has that key.
func (p *Pool) Use(hash string, now time.Time) *Member {
	for i := range p.members {
		if m := &p.members[i]; m.Key.Hash == hash {
			m.Key.begin(now, p.limits)
			return m
		}
	}
	return nil
}
