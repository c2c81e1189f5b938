package imagehost

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Local keeps images as files in Dir, named by 128 random bits, and links
// them under PublicURL + hcl.ImagesPath. A link needs no credential (a
// browser rendering a chat answer sends none): the name is the secret,
// and it stops working Retain after the image was made, when the file
// is deleted.
//
// Files rather than database rows: images are megabytes each, which
// would swell the stats database and its write-ahead log for nothing a
// query needs. A fleet of replicas shares the directory (a volume) or
// uses an upload host instead.
type Local struct {
	Dir       string
	PublicURL string
	Retain    time.Duration
}

// nameLen is the length of a file name without its extension: 16 random
// bytes in unpadded base64url.
const nameLen = 22

// Put writes the image and returns its link.
func (l *Local) Put(_ context.Context, data []byte, mime string) (string, error) {
	if err := os.MkdirAll(l.Dir, 0o700); err != nil {
		return "", fmt.Errorf("image store: %w", err)
	}
	var id [16]byte
	_, _ = rand.Read(id[:]) // crypto/rand.Read never fails
	name := base64.RawURLEncoding.EncodeToString(id[:]) + extension(mime)
	// Written under a temporary name and renamed, so a link never serves
	// half a file.
	tmp, err := os.CreateTemp(l.Dir, ".upload-*")
	if err != nil {
		return "", fmt.Errorf("image store: %w", err)
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(tmp.Name())
		return "", fmt.Errorf("image store: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(l.Dir, name)); err != nil {
		_ = os.Remove(tmp.Name())
		return "", fmt.Errorf("image store: %w", err)
	}
	return l.PublicURL + "/images/" + name, nil
}

// Open finds a live image by the file name of its link. It returns the
// file's path, its mime type and how long the link still works; ok is
// false for a name that is malformed, unknown or expired.
func (l *Local) Open(name string, now time.Time) (path, mime string, left time.Duration, ok bool) {
	ext := filepath.Ext(name)
	id := strings.TrimSuffix(name, ext)
	if len(id) != nameLen || extension(mimeOf(ext)) != ext || strings.Trim(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
		return "", "", 0, false
	}
	path = filepath.Join(l.Dir, name)
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return "", "", 0, false
	}
	left = fi.ModTime().Add(l.Retain).Sub(now)
	if left <= 0 {
		_ = os.Remove(path)
		return "", "", 0, false
	}
	return path, mimeOf(ext), left, true
}

// Sweep deletes images older than Retain (and upload leftovers), and
// reports how many it deleted.
func (l *Local) Sweep(now time.Time) (int, error) {
	entries, err := os.ReadDir(l.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil || !fi.Mode().IsRegular() || now.Sub(fi.ModTime()) < l.Retain {
			continue
		}
		if os.Remove(filepath.Join(l.Dir, e.Name())) == nil {
			n++
		}
	}
	return n, nil
}
