// Package testutil holds the small helpers that tests of several packages
// share: a buffer that concurrent writers may use, and a clock moved by
// hand. Only _test files and test-support packages import it.
package testutil

import (
	"bytes"
	"fmt"
	"sync"
	"time"
)

// Buffer is a bytes.Buffer that a log handler, a child process and a test
// may use at once.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Reset forgets everything written so far.
func (b *Buffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b.Reset()
}

// Clock is an injected clock that tests move by hand; its Now fits every
// `Now func() time.Time` field. The zero value starts at the zero time:
// NewClock starts at a fixed, readable instant.
type Clock struct {
	mu sync.Mutex
	T  time.Time
}

// NewClock returns a clock at 2026-01-02 03:04:05 UTC.
func NewClock() *Clock { return &Clock{T: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.T
}

// Add moves the clock.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.T = c.T.Add(d)
	c.mu.Unlock()
}

// Set puts the clock at t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.T = t
	c.mu.Unlock()
}

// String is for test failure messages.
func (c *Clock) String() string { return fmt.Sprint(c.Now()) }
