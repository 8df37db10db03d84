package rexec

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// fakeWarm is the remote side of a Warm played by hand: it reads what the client sends and
// writes what the test says into Output.
type fakeWarm struct {
	w  *Warm
	in *bufio.Reader
}

func newFakeWarm(t *testing.T) *fakeWarm {
	t.Helper()
	w, err := NewWarm()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return &fakeWarm{w: w, in: bufio.NewReader(w.Input())}
}

// script reads one script frame and returns the nonce of the command in flight.
func (f *fakeWarm) script(t *testing.T) string {
	t.Helper()
	head := make([]byte, 8)
	if _, err := io.ReadFull(f.in, head); err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(string(head))
	if err != nil || n <= 0 {
		t.Fatalf("script frame header %q", head)
	}
	if _, err := io.ReadFull(f.in, make([]byte, n)); err != nil {
		t.Fatal(err)
	}
	f.w.mu.Lock()
	defer f.w.mu.Unlock()
	return f.w.cur.nonce
}

// header reads one frame header the client sent.
func (f *fakeWarm) header(t *testing.T) string {
	t.Helper()
	h := make([]byte, 9)
	if _, err := io.ReadFull(f.in, h); err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// say writes s into Output one byte at a time: markers and trailers may arrive split anywhere.
func (f *fakeWarm) say(t *testing.T, s string) {
	t.Helper()
	for i := 0; i < len(s); i++ {
		if _, err := f.w.Output().Write([]byte{s[i]}); err != nil {
			t.Fatal(err)
		}
	}
}

type runResult struct {
	st  int
	err error
}

func (f *fakeWarm) run(ctx context.Context, req Request) <-chan runResult {
	res := make(chan runResult, 1)
	go func() { st, err := f.w.Run(ctx, req); res <- runResult{st, err} }()
	return res
}

func wait(t *testing.T, res <-chan runResult) runResult {
	t.Helper()
	select {
	case r := <-res:
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return")
		return runResult{}
	}
}

// TestWarmConsumeByteByByte: two commands through one Warm, the remote's output fed one byte at
// a time, with noise before the ready markers, a fake trailer and a lone trailer byte in stdout.
func TestWarmConsumeByteByByte(t *testing.T) {
	f := newFakeWarm(t)
	f.say(t, "junk\x1eecsterm-war"+warmReady)
	if err := f.w.Ready(t.Context()); err != nil {
		t.Fatal(err)
	}
	for i, st := range []int{9, 0} {
		var out, errOut bytes.Buffer
		res := f.run(t.Context(), Request{Command: "x", Stdout: &out, Stderr: &errOut})
		nonce := f.script(t)
		if h := f.header(t); h != "z00000000" {
			t.Fatalf("%d: no stdin should be its end of file at once, got %q", i, h)
		}
		f.say(t, "data\x1edeadbeef 0 0\n\x1e"+"more\x1e"+"\x1e"+nonce+" "+strconv.Itoa(st)+" 3\nERR")
		r := wait(t, res)
		if r.err != nil || r.st != st || out.String() != "data\x1edeadbeef 0 0\n\x1emore\x1e" || errOut.String() != "ERR" {
			t.Fatalf("%d: status %d %v, stdout %q, stderr %q", i, r.st, r.err, out.String(), errOut.String())
		}
		if h := f.header(t); h != "e00000000" {
			t.Fatalf("%d: after the trailer the client sent %q, want the end frame", i, h)
		}
		f.say(t, "stray output"+warmReady)
	}
}

// TestWarmMalformedStatusBreaks: a trailer whose status line cannot be parsed breaks the Warm.
func TestWarmMalformedStatusBreaks(t *testing.T) {
	f := newFakeWarm(t)
	f.say(t, warmReady)
	res := f.run(t.Context(), Request{Command: "x"})
	nonce := f.script(t)
	f.say(t, "\x1e"+nonce+" x y\n")
	if r := wait(t, res); r.st != -1 || r.err == nil {
		t.Fatalf("status %d, %v; want -1 and an error", r.st, r.err)
	}
	select {
	case <-f.w.Broken():
	default:
		t.Fatal("not broken")
	}
	if _, err := f.w.Run(t.Context(), Request{Command: "true"}); err == nil {
		t.Fatal("a broken Warm ran a command")
	}
}

// TestWarmCancelBeforeStartKeepsTheWarm: a Run whose context ends while it waits for the remote
// to be ready returns -1 and the context's error, and the Warm is not broken.
func TestWarmCancelBeforeStartKeepsTheWarm(t *testing.T) {
	f := newFakeWarm(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if st, err := f.w.Run(ctx, Request{Command: "x"}); st != -1 || !errors.Is(err, context.Canceled) {
		t.Fatalf("status %d, %v", st, err)
	}
	select {
	case <-f.w.Broken():
		t.Fatal("broken")
	default:
	}
	if _, err := f.w.Run(t.Context(), Request{Command: "x", TTY: true}); err == nil {
		t.Fatal("a warm Run took -t")
	}
}

// TestWarmCloseBeforeReady: a session whose helper never starts; Ready reports its output,
// and nothing is left running.
func TestWarmCloseBeforeReady(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	f := newFakeWarm(t)
	f.say(t, "sh: stty: not found\r\n")
	res := f.run(t.Context(), Request{Command: "x", Stdin: strings.NewReader("in")})
	f.w.Close()
	err := f.w.Ready(t.Context())
	if err == nil || !strings.Contains(err.Error(), "stty: not found") {
		t.Fatalf("Ready: %v", err)
	}
	if r := wait(t, res); r.st != -1 || r.err == nil {
		t.Fatalf("Run: %d %v", r.st, r.err)
	}
}

// TestWarmUnansweredInterruptBreaks: an interrupt the remote never answers (the frame could
// not pass stdin the command does not read) breaks the Warm after interruptWait, so that the
// caller ends the session, which stops the command.
func TestWarmUnansweredInterruptBreaks(t *testing.T) {
	f := newFakeWarm(t)
	f.w.interruptWait = 10 * time.Millisecond
	f.say(t, warmReady)
	ctx, cancel := context.WithCancel(t.Context())
	res := f.run(ctx, Request{Command: "x"})
	f.script(t)
	if h := f.header(t); h != "z00000000" {
		t.Fatalf("got %q, want the end of file", h)
	}
	cancel()
	if h := f.header(t); h != "i00000000" {
		t.Fatalf("got %q, want the interrupt", h)
	}
	if r := wait(t, res); r.st != -1 || r.err == nil {
		t.Fatalf("status %d, %v; want -1 and an error", r.st, r.err)
	}
	select {
	case <-f.w.Broken():
	default:
		t.Fatal("not broken")
	}
}

// TestWarmInterruptAnswered: the remote's trailer after an interrupt is the command's status,
// returned with the context's error; the Warm goes on.
func TestWarmInterruptAnswered(t *testing.T) {
	f := newFakeWarm(t)
	f.say(t, warmReady)
	ctx, cancel := context.WithCancel(t.Context())
	res := f.run(ctx, Request{Command: "x"})
	nonce := f.script(t)
	f.header(t)
	cancel()
	if h := f.header(t); h != "i00000000" {
		t.Fatalf("got %q, want the interrupt", h)
	}
	f.say(t, "\x1e"+nonce+" 143 0\n")
	if r := wait(t, res); r.st != 143 || !errors.Is(r.err, context.Canceled) {
		t.Fatalf("status %d, %v; want 143 and context.Canceled", r.st, r.err)
	}
	if h := f.header(t); h != "e00000000" {
		t.Fatalf("got %q, want the end frame", h)
	}
	select {
	case <-f.w.Broken():
		t.Fatal("broken")
	default:
	}
}

// blockingWriter blocks every Write until release is closed.
type blockingWriter struct {
	entered chan struct{}
	release chan struct{}
}

func (b *blockingWriter) Write(p []byte) (int, error) {
	select {
	case b.entered <- struct{}{}:
	default:
	}
	<-b.release
	return len(p), nil
}

// TestWarmCloseWhileStdoutBlocks: Close returns, and so does Run, while the command's stdout
// is stuck in a Write (a client that stopped reading).
func TestWarmCloseWhileStdoutBlocks(t *testing.T) {
	f := newFakeWarm(t)
	f.say(t, warmReady)
	bw := &blockingWriter{entered: make(chan struct{}, 1), release: make(chan struct{})}
	res := f.run(t.Context(), Request{Command: "x", Stdout: bw})
	f.script(t)
	said := make(chan struct{})
	go func() { defer close(said); _, _ = f.w.Output().Write([]byte("out")) }()
	<-bw.entered
	closed := make(chan struct{})
	go func() { f.w.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatal("Close waited for the blocked stdout")
	}
	if r := wait(t, res); r.st != -1 || r.err == nil {
		t.Fatalf("status %d, %v", r.st, r.err)
	}
	close(bw.release)
	<-said
}

// TestWarmNoReadyAfterACommandBreaks: a remote that never says it is ready again after a
// command (its decoder stuck) breaks the Warm after resyncWait, so that it is dropped rather
// than kept for ever with nothing able to run on it.
func TestWarmNoReadyAfterACommandBreaks(t *testing.T) {
	f := newFakeWarm(t)
	f.w.resyncWait = 10 * time.Millisecond
	f.say(t, warmReady)
	res := f.run(t.Context(), Request{Command: "x"})
	nonce := f.script(t)
	f.header(t)
	f.say(t, "\x1e"+nonce+" 0 0\n")
	if r := wait(t, res); r.st != 0 || r.err != nil {
		t.Fatalf("status %d, %v", r.st, r.err)
	}
	f.header(t) // the end frame
	select {
	case <-f.w.Broken():
	case <-time.After(30 * time.Second):
		t.Fatal("not broken")
	}
}
