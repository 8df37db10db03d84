// Package timing records when the steps of opening a session happened, for --timing: the
// breakdown a user needs to tell a slow API from a slow agent from a slow network. The Recorder
// is handed to what does the steps (internal/attach, through the Factory); a nil Recorder marks
// nothing.
package timing

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Recorder keeps the first time each step was marked.
type Recorder struct {
	start time.Time
	now   func() time.Time

	mu    sync.Mutex
	marks []mark
}

type mark struct {
	step string
	at   time.Duration // since start
}

// New starts a Recorder whose times count from start.
func New(start time.Time) *Recorder { return &Recorder{start: start, now: time.Now} }

// Mark records that step happened now, unless it has happened before: a step that repeats (each
// forwarded connection opens a session) counts its first time, which is the one a user waits
// for. Marking on a nil Recorder does nothing.
func (r *Recorder) Mark(step string) {
	if r == nil {
		return
	}
	at := r.now().Sub(r.start)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.marks {
		if m.step == step {
			return
		}
	}
	r.marks = append(r.marks, mark{step, at})
}

// Marked reports whether any step was marked: a command that opened no session (help, version,
// a usage error) has nothing to break down.
func (r *Recorder) Marked() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.marks) > 0
}

// Summary is one line: every step with its time since start, in the order they happened (steps
// that ran side by side, like preflight and StartTerminalSession, interleave), then the total.
func (r *Recorder) Summary() string {
	total := r.now().Sub(r.start)
	r.mu.Lock()
	marks := slices.Clone(r.marks)
	r.mu.Unlock()
	slices.SortStableFunc(marks, func(a, b mark) int { return cmp.Compare(a.at, b.at) })
	var b strings.Builder
	b.WriteString("timing since start:")
	for _, m := range marks {
		fmt.Fprintf(&b, " %s %s,", m.step, ms(m.at))
	}
	fmt.Fprintf(&b, " exit %s", ms(total))
	return b.String()
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
}
