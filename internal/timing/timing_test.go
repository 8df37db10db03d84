package timing

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestSummary(t *testing.T) {
	start := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	now := start
	r := New(start)
	r.now = func() time.Time { return now }
	ctx := With(context.Background(), r)

	now = start.Add(31 * time.Millisecond)
	Mark(ctx, "StartTerminalSession")
	now = start.Add(24500 * time.Microsecond)
	Mark(ctx, "preflight") // marked later, happened earlier: sorted by time
	now = start.Add(40 * time.Millisecond)
	Mark(ctx, "WebSocket open")
	now = start.Add(90 * time.Millisecond)
	Mark(ctx, "StartTerminalSession") // a repeat keeps the first time
	now = start.Add(1042 * time.Millisecond)
	Mark(ctx, "first output")
	now = start.Add(1100 * time.Millisecond)

	want := "timing since start: preflight 24.5ms, StartTerminalSession 31.0ms, WebSocket open 40.0ms, first output 1042.0ms, exit 1100.0ms"
	if got := r.Summary(); got != want {
		t.Errorf("Summary() =\n%s\nwant\n%s", got, want)
	}
}

func TestMarkWithoutRecorder(t *testing.T) {
	r := New(time.Now())
	Mark(context.Background(), "anything") // a context without r: r hears nothing
	if r.Marked() {
		t.Error("a mark in another context reached the recorder")
	}
	var none *Recorder
	none.Mark("anything") // a nil Recorder ignores marks (attach marks whether or not --timing)
	Mark(With(context.Background(), r), "step")
	if !r.Marked() || !strings.Contains(r.Summary(), " step ") {
		t.Errorf("a mark through With was not recorded: %q", r.Summary())
	}
}
