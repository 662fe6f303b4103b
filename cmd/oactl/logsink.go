package main

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// logSink batches log lines into fewer writes. serve logs one line per
// request, and a write(2) per line is a visible share of a cheap
// request's cost (measured with scripts/bench-serve; see
// docs/PERFORMANCE.md). Lines reach the stream within flushEvery, when
// the buffer fills, and on Close.
type logSink struct {
	mu   sync.Mutex
	w    *bufio.Writer
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

const logFlushEvery = 100 * time.Millisecond

func newLogSink(w io.Writer, every time.Duration) *logSink {
	s := &logSink{w: bufio.NewWriterSize(w, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go s.flushLoop(every)
	return s
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *logSink) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.w.Flush()
}

func (s *logSink) flushLoop(every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			s.flush()
			return
		case <-t.C:
			s.flush()
		}
	}
}

// Close flushes what is buffered and stops the flusher.
func (s *logSink) Close() error {
	s.once.Do(func() { close(s.stop) })
	<-s.done
	return nil
}
