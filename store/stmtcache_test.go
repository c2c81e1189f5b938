package store

import (
	"context"
	"slices"
	"testing"
)

type chunkRecorder struct {
	rows []int
	seen int // rows passed so far, to check order and coverage
	t    *testing.T
}

func (c *chunkRecorder) exec(_ context.Context, spec *insertSpec, rows int, args []any) error {
	if len(args) != rows*len(spec.cols) {
		c.t.Fatalf("chunk of %d rows got %d args", rows, len(args))
	}
	for i := 0; i < rows; i++ {
		if got := args[i*len(spec.cols)].(int); got != c.seen {
			c.t.Fatalf("row %d arrived as %d", got, c.seen)
		}
		c.seen++
	}
	c.rows = append(c.rows, rows)
	return nil
}

// TestInsertChunks pins the chunking that keeps the statement set small:
// only the fixed chunk sizes, greedy, every row exactly once and in order,
// and chunks of large rows cut at bytesPerInsert.
func TestInsertChunks(t *testing.T) {
	spec := &insertSpec{table: "t", cols: []string{"a", "b"}}
	big := bytesPerInsert / 3
	for _, c := range []struct {
		name  string
		rows  int
		sizes func(i int) int
		want  []int
	}{
		{"one", 1, nil, []int{1}},
		{"seven", 7, nil, []int{1, 1, 1, 1, 1, 1, 1}},
		{"eight", 8, nil, []int{8}},
		{"sixty-three", 63, nil, []int{8, 8, 8, 8, 8, 8, 8, 1, 1, 1, 1, 1, 1, 1}},
		{"sixty-four", 64, nil, []int{64}},
		{"seventy-five", 75, nil, []int{64, 8, 1, 1, 1}},
		{"two hundred", 200, nil, []int{64, 64, 64, 8}},
		{"small bodies", 70, func(int) int { return 300 }, []int{64, 1, 1, 1, 1, 1, 1}},
		{"large bodies", 10, func(int) int { return big }, []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
		{"one huge body", 9, func(i int) int { return map[bool]int{true: 2 * bytesPerInsert, false: 10}[i == 0] }, []int{1, 8}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var args []any
			var sizes []int
			for i := 0; i < c.rows; i++ {
				args = append(args, i, "x")
				if c.sizes != nil {
					sizes = append(sizes, c.sizes(i))
				}
			}
			rec := &chunkRecorder{t: t}
			if err := insertChunks(context.Background(), rec, spec, args, sizes); err != nil {
				t.Fatal(err)
			}
			if rec.seen != c.rows || !slices.Equal(rec.rows, c.want) {
				t.Fatalf("%d rows in chunks %v, want %v", rec.seen, rec.rows, c.want)
			}
			for _, r := range rec.rows {
				if !slices.Contains(chunkSizes[:], r) {
					t.Fatalf("chunk of %d rows is not a fixed size", r)
				}
			}
		})
	}
	if err := insertChunks(context.Background(), &chunkRecorder{t: t}, spec, []any{1, 2, 3}, nil); err == nil {
		t.Fatal("3 args for 2 columns accepted")
	}
}
