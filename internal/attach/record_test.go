package attach

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/ecsterm/ecsterm/internal/emulator"
	"github.com/ecsterm/ecsterm/pkg/record"
	"github.com/ecsterm/ecsterm/pkg/session"
)

const demoID = "i-emu0demo000000001"

// TestRecordingRefusedEndsSession: a recording that cannot start ends the session before any
// input reaches it, and says why; the session is ended at once.
func TestRecordingRefusedEndsSession(t *testing.T) {
	e, c := testEmulator(t, emulator.Options{})
	var out bytes.Buffer
	err := Interactive(testCtx(t), Options{
		Cloud: c, InstanceID: demoID, Stdin: strings.NewReader("echo ran-$((2*21))\nexit\n"), Stdout: &out,
		Recording: &Recording{Start: func(RecordInfo) (*record.Recorder, error) { return nil, errors.New("disk full") }},
	})
	if err == nil || !strings.Contains(err.Error(), "disk full") || !strings.Contains(err.Error(), "unrecorded") {
		t.Fatalf("err = %v, want the recording's error", err)
	}
	if out.Len() != 0 {
		t.Errorf("session output %q: the session ran", out.String())
	}
	if n := e.Calls("EndTerminalSession"); n != 1 {
		t.Errorf("EndTerminalSession called %d times, want 1", n)
	}
}

type failing struct{ after int }

func (f *failing) Write(p []byte) (int, error) {
	if f.after == 0 {
		return 0, errors.New("disk full")
	}
	f.after--
	return len(p), nil
}

// TestRecordedOutputFails: a recording that fails mid-session fails the output write (which
// ends the session), after the frame reached the terminal.
func TestRecordedOutputFails(t *testing.T) {
	rec, err := record.New(&failing{after: 1}, record.Header{Width: 80, Height: 24})
	if err != nil {
		t.Fatal(err)
	}
	var term bytes.Buffer
	w := &recordedOutput{w: &term, rec: rec}
	if _, err := w.Write([]byte("shown")); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Write: %v, want the recording's error", err)
	}
	if term.String() != "shown" {
		t.Errorf("terminal got %q", term.String())
	}
}

// TestEndedOutside names a session EndTerminalSession ended; other closes are left alone.
func TestEndedOutside(t *testing.T) {
	if err := endedOutside(&session.ClosedError{State: session.StateClosed, Reason: "Terminated"}); !errors.Is(err, ErrEndedOutside) {
		t.Errorf("Terminated: %v", err)
	}
	other := &session.ClosedError{State: session.StateClosed, Reason: "AgentTimeout"}
	if err := endedOutside(other); err != error(other) {
		t.Errorf("AgentTimeout: %v", err)
	}
}
