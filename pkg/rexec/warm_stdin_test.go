//go:build linux

package rexec

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"testing"
)

// endlessWriter writes chunks into pw until stop is closed, then closes pw.
func endlessWriter(pw *io.PipeWriter, stop <-chan struct{}) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer pw.Close()
		chunk := bytes.Repeat([]byte("e00000000\n0\n"), 1000) // looks like frames, and is not
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := pw.Write(chunk); err != nil {
				return
			}
		}
	}()
	return done
}

// TestWarmStdinStillFlowingAfterTheCommand: a command ends while its stdin is still open and
// being written; nothing of that stdin may reach the loop or the next command.
func TestWarmStdinStillFlowingAfterTheCommand(t *testing.T) {
	r := startWarm(t, 1)
	pr, pw := io.Pipe()
	stop := make(chan struct{})
	written := endlessWriter(pw, stop)
	defer func() { close(stop); pr.Close(); <-written }()

	var out bytes.Buffer
	if st, err := r.run(t, Request{Command: "head -c 9; exit 4", Stdin: pr, Stdout: &out}); err != nil || st != 4 || out.String() != "e00000000" {
		t.Fatalf("status %d, %v, stdout %q", st, err, out.String())
	}
	for i := range 3 {
		var next bytes.Buffer
		if st, err := r.run(t, Request{Command: "cat; echo next", Stdin: bytes.NewReader([]byte("in\n")), Stdout: &next}); err != nil || st != 0 || next.String() != "in\nnext\n" {
			t.Fatalf("%d: the next command: status %d, %v, stdout %q", i, st, err, next.String()[:min(next.Len(), 200)])
		}
	}
}

// TestWarmRunsAreSerialised: Runs called together take turns on the one session.
func TestWarmRunsAreSerialised(t *testing.T) {
	r := startWarm(t, 1)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := range 4 {
		wg.Go(func() {
			var out bytes.Buffer
			in := bytes.Repeat([]byte{byte('a' + i)}, 100000)
			st, err := r.run(t, Request{Command: fmt.Sprintf("wc -c; exit %d", i), Stdin: bytes.NewReader(in), Stdout: &out})
			if err != nil || st != i || out.String() != "100000\n" {
				errs <- fmt.Errorf("%d: status %d, %v, stdout %q", i, st, err, out.String())
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
