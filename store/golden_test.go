package store

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// TestDialectSQLGolden pins the only SQL that differs between the engines,
// so a change to an upsert clause is a reviewed diff, not a surprise.
func TestDialectSQLGolden(t *testing.T) {
	for _, d := range []dialect{sqliteDialect{}, mysqlDialect{}} {
		t.Run(d.name(), func(t *testing.T) {
			var b strings.Builder
			cols := append(rollupKeyCols[:len(rollupKeyCols):len(rollupKeyCols)], rollupSumCols...)
			b.WriteString("-- rollup upsert (2 rows)\n")
			b.WriteString(insertSQL("rollup_1m", cols, 2) + d.upsertAdd(rollupKeyCols, rollupSumCols) + "\n\n")
			b.WriteString("-- key state upsert, newest wins\n")
			b.WriteString(insertSQL("key_state", keyStateCols, 1) + d.upsertNewer([]string{"key_hash", "model"}, keyStateUpdated) + "\n\n")
			b.WriteString("-- retention batch\n")
			b.WriteString(d.deleteBatch("requests", "ts", pruneBatch) + "\n")
			path := filepath.Join("testdata", "dialect_"+d.name()+".sql")
			if *update {
				if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if got := b.String(); got != string(want) {
				t.Errorf("SQL differs from %s (run with -update if intended):\n%s", path, got)
			}
		})
	}
}

func FuzzParseCursor(f *testing.F) {
	for _, s := range []string{"1700000000000.42", "0.0", "", ".", "1.", ".1", "-1.2", "+1.2", "1.2.3", "99999999999999999999.1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, id, err := ParseCursor(s)
		if err != nil {
			return
		}
		if ts < 0 || id < 0 {
			t.Fatalf("ParseCursor(%q) accepted negative %d.%d", s, ts, id)
		}
		ts2, id2, err := ParseCursor(FormatCursor(ts, id))
		if err != nil || ts2 != ts || id2 != id {
			t.Fatalf("round trip of %q: %d.%d, %v", s, ts2, id2, err)
		}
	})
}

func FuzzClip(f *testing.F) {
	for _, s := range []string{"", "abc", "ééé", "a\xffb", "\xe2\x82", strings.Repeat("日本", 50)} {
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, s string, n int) {
		if n < 0 || n > 1000 {
			return
		}
		c := clip(s, n)
		if !utf8.ValidString(c) || utf8.RuneCountInString(c) > n {
			t.Fatalf("clip(%q, %d) = %q", s, n, c)
		}
		cb := clipBytes(s, n)
		if !utf8.ValidString(cb) || len(cb) > n {
			t.Fatalf("clipBytes(%q, %d) = %q", s, n, cb)
		}
	})
}
