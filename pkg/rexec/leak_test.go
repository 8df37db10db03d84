package rexec

import (
	"bufio"
	"io"
	"strconv"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestCloseEndsFeedWhenRemoteNeverAnswers: a session that never opens, or whose agent never
// runs the bootstrap, must not leave the goroutine that waits to send the script.
func TestCloseEndsFeedWhenRemoteNeverAnswers(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for _, tty := range []bool{false, true} {
		e, err := New(Request{Command: "true", TTY: tty})
		if err != nil {
			t.Fatal(err)
		}
		e.Close()
	}
}

// TestCloseEndsFeedWaitingForGo: with -t, the bootstrap answered but the command never
// started (no go marker); Close still ends the feed.
func TestCloseEndsFeedWaitingForGo(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	e, err := New(Request{Command: "true", TTY: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Output().Write([]byte(readyMarker)); err != nil {
		t.Fatal(err)
	}
	// Take the whole script, so that the feed has gone on to wait for the go marker.
	in := bufio.NewReader(e.Input())
	head := make([]byte, 8)
	if _, err := io.ReadFull(in, head); err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(string(head))
	if err != nil || n <= 0 {
		t.Fatalf("script frame header %q", head)
	}
	if _, err := io.ReadFull(in, make([]byte, n)); err != nil {
		t.Fatal(err)
	}
	e.Close()
}
