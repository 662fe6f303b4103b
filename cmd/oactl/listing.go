package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
)

// The listings of sessions, users and audit rows stream keyset pages to a
// table or a JSON array with these helpers, so that --limit 0 on a large
// table never holds more than a page in memory.

// writePages streams a keyset listing: fetch returns a page of at most n
// items after the previous page's last (nil for the first), write prints
// one item. It stops after limit items (0: all of them) and returns how
// many it wrote; only one page is held at a time.
func writePages[T any](limit int, fetch func(n int, after *T) ([]T, error), write func(T) error) (int, error) {
	written := 0
	var after *T
	for {
		n := listPageSize
		if limit > 0 {
			n = min(listPageSize, limit-written)
		}
		rows, err := fetch(n, after)
		if err != nil {
			return written, err
		}
		for _, r := range rows {
			if err := write(r); err != nil {
				return written, err
			}
			written++
		}
		if len(rows) < n || (limit > 0 && written >= limit) {
			return written, nil
		}
		after = &rows[len(rows)-1]
	}
}

// jsonArray streams a JSON array, one element per line.
type jsonArray struct {
	w *bufio.Writer
	n int
}

func (a *jsonArray) add(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	if a.n == 0 {
		a.w.WriteString("[")
	} else {
		a.w.WriteString(",")
	}
	a.w.WriteString("\n  ")
	a.w.Write(b)
	a.n++
	return nil
}

func (a *jsonArray) close() {
	if a.n == 0 {
		a.w.WriteString("[")
	} else {
		a.w.WriteString("\n")
	}
	a.w.WriteString("]\n")
}

// endList ends a listing: the JSON array closed, the output flushed, and
// an empty listing exit status 4 ("nothing matched: no what").
func endList(w *bufio.Writer, arr *jsonArray, asJSON bool, written int, what string) error {
	if asJSON {
		arr.close()
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if written == 0 {
		return withExit(exitNoMatch, errors.New("nothing matched: no "+what))
	}
	return nil
}
