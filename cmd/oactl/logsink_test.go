package main

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oactl/oactl/internal/testutil"
)

func TestLogSinkFlushesOnTimeAndOnClose(t *testing.T) {
	var out testutil.Buffer
	s := newLogSink(&out, 20*time.Millisecond)
	s.Write([]byte("one\n"))
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "one") {
		if time.Now().After(deadline) {
			t.Fatal("a line did not reach the stream by the periodic flush")
		}
		time.Sleep(5 * time.Millisecond)
	}
	s2 := newLogSink(&out, time.Hour)
	s2.Write([]byte("two\n"))
	if strings.Contains(out.String(), "two") {
		t.Fatal("written through without buffering")
	}
	s2.Close()
	if !strings.Contains(out.String(), "two") {
		t.Fatal("Close lost a buffered line")
	}
	s.Close()
	s.Close() // idempotent
}

func TestLogSinkKeepsLinesWhole(t *testing.T) {
	var out testutil.Buffer
	s := newLogSink(&out, time.Millisecond)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 500; j++ {
				s.Write([]byte(strings.Repeat("x", 99) + "\n"))
			}
		}()
	}
	wg.Wait()
	s.Close()
	for i, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		if line != strings.Repeat("x", 99) {
			t.Fatalf("line %d torn: %q", i, line)
		}
	}
}
