package timing

import (
	"strings"
	"testing"
	"time"
)

func TestSummary(t *testing.T) {
	start := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	now := start
	r := New(start)
	r.now = func() time.Time { return now }

	now = start.Add(31 * time.Millisecond)
	r.Mark("StartTerminalSession")
	now = start.Add(24500 * time.Microsecond)
	r.Mark("preflight") // marked later, happened earlier: sorted by time
	now = start.Add(40 * time.Millisecond)
	r.Mark("WebSocket open")
	now = start.Add(90 * time.Millisecond)
	r.Mark("StartTerminalSession") // a repeat keeps the first time
	now = start.Add(1042 * time.Millisecond)
	r.Mark("first output")
	now = start.Add(1100 * time.Millisecond)

	want := "timing since start: preflight 24.5ms, StartTerminalSession 31.0ms, WebSocket open 40.0ms, first output 1042.0ms, exit 1100.0ms"
	if got := r.Summary(); got != want {
		t.Errorf("Summary() =\n%s\nwant\n%s", got, want)
	}
}

func TestMarkOnNilRecorder(t *testing.T) {
	var none *Recorder
	none.Mark("anything") // a nil Recorder ignores marks (attach marks whether or not --timing)
	r := New(time.Now())
	if r.Marked() {
		t.Fatal("a new Recorder says it was marked")
	}
	r.Mark("step")
	if !r.Marked() || !strings.Contains(r.Summary(), " step ") {
		t.Errorf("a mark was not recorded: %q", r.Summary())
	}
}
