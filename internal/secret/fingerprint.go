package secret

import (
	"crypto/sha256"
	"encoding/hex"
)

// Fingerprint returns a short, human-recognisable stand-in for a secret:
// the first four and last four characters joined by an ellipsis
// ("AIza…x7Q2"). Secrets of twelve characters or fewer keep only their
// last two characters, so short test keys are never echoed whole.
//
// Fingerprint is not unique: two keys that share their first and last four
// characters get the same one. Pool keys are named by KeyFingerprint
// instead; Fingerprint stays for client tokens and other secrets, which are
// named by their token's name wherever identity matters.
func Fingerprint(s string) string {
	if len(s) > 12 {
		return s[:4] + "…" + s[len(s)-4:]
	}
	if len(s) > 4 {
		return "…" + s[len(s)-2:]
	}
	return "…"
}

// KeyTagDigits is the length of the hash tag KeyFingerprint appends.
const KeyTagDigits = 4

// keyTagDomain separates the tag's hash from every other hash of a key
// (the store's key_hash is a bare SHA-256), so a tag can never be matched
// against a prefix of one.
const keyTagDomain = "balance key fingerprint v1\x00"

// KeyFingerprint names a pool key wherever it leaves the process (status,
// stats rows, logs, redacted bodies): Fingerprint plus "#" and the first
// KeyTagDigits hex digits of a domain-separated SHA-256 of the key
// ("AIza…x7Q2#3fa1"). Two keys that share their first and last four
// characters still get different names (unless the 16-bit tags collide
// too, which KeyNames resolves).
//
// The tag is deliberately unsalted: every instance of a fleet sharing one
// MySQL database must name a key the same way, or its by_key stats rows
// would split per instance and per restart. What it reveals is 16 bits of
// a hash of a ~210-bit random Google key: a 1-in-65,536 check of a key an
// attacker already holds, less than the eight characters Fingerprint
// already shows and far less than the full SHA-256 the store keeps as
// key_hash; it gives no help in guessing a key.
func KeyFingerprint(key string) string { return keyFingerprint(key, KeyTagDigits) }

func keyFingerprint(key string, digits int) string {
	sum := sha256.Sum256([]byte(keyTagDomain + key))
	tag := hex.EncodeToString(sum[:])
	if digits > len(tag) {
		digits = len(tag)
	}
	return Fingerprint(key) + "#" + tag[:digits]
}

// KeyNames hands out key fingerprints that are unique among the keys it
// has named. A key gets KeyFingerprint unless another key already holds
// that name; then its tag is lengthened (8, 16, 32 hex digits) until the
// name is free. The longer tag is only ever needed when two keys share
// their first and last four characters and 16 bits of hash, so in practice
// every key keeps its KeyFingerprint and every instance of a fleet names
// it alike. The zero value is not usable; use NewKeyNames. KeyNames
// is not safe for concurrent use.
type KeyNames struct {
	byKey  map[string]string
	byName map[string]string
}

// NewKeyNames returns an empty KeyNames.
func NewKeyNames() *KeyNames {
	return &KeyNames{byKey: map[string]string{}, byName: map[string]string{}}
}

// Name returns key's fingerprint, assigning one on first use. The same key
// always gets the same name back.
func (n *KeyNames) Name(key string) string {
	if fp, ok := n.byKey[key]; ok {
		return fp
	}
	fp := KeyFingerprint(key)
	// 32 digits at most: the store's key_fp columns hold 64 characters.
	for digits := KeyTagDigits * 2; n.byName[fp] != "" && digits <= 32; digits *= 2 {
		fp = keyFingerprint(key, digits)
	}
	n.byKey[key], n.byName[fp] = fp, key
	return fp
}

// Forget releases key's name.
func (n *KeyNames) Forget(key string) {
	if fp, ok := n.byKey[key]; ok {
		delete(n.byKey, key)
		delete(n.byName, fp)
	}
}
