package attach

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/ecsterm/ecsterm/internal/emulator"
	"github.com/ecsterm/ecsterm/pkg/session"
)

// TestChannelRunsAndEnds: an opened channel carries the caller's own exchange (here a shell's
// input and output) and End ends the session once, however often it is called.
func TestChannelRunsAndEnds(t *testing.T) {
	e, c := testEmulator(t, emulator.Options{})
	ch, err := New(Config{API: c}).Open(testCtx(t), Target{InstanceID: idDemo}, "", true)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Instance().ID != idDemo || ch.SessionID() == "" {
		t.Errorf("instance %q, session %q", ch.Instance().ID, ch.SessionID())
	}
	var out bytes.Buffer
	err = ch.Run(testCtx(t), session.Options{Stdin: strings.NewReader("echo chan-$((6*7))\nexit\n"), Stdout: &out, OnEOF: session.EOFNothing})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !strings.Contains(out.String(), "chan-42") {
		t.Errorf("output %q, want the shell's answer", out.String())
	}
	ch.End()
	ch.End()
	if n := e.Calls("EndTerminalSession"); n != 1 {
		t.Errorf("EndTerminalSession called %d times, want 1", n)
	}
}

// TestChannelRefusesWindows: a channel for the exec exchange needs a Linux instance, and the
// session started meanwhile is ended.
func TestChannelRefusesWindows(t *testing.T) {
	e, c := testEmulator(t, emulator.Options{})
	_, err := New(Config{API: c}).Open(testCtx(t), Target{InstanceID: "i-emu0windows000006"}, "sh", true)
	if !errors.Is(err, ErrWindows) {
		t.Fatalf("err = %v, want ErrWindows", err)
	}
	if n := e.Calls("EndTerminalSession"); n != 1 {
		t.Errorf("EndTerminalSession called %d times, want 1", n)
	}
}
