package cp

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// meter counts the bytes of a copy and, when it draws, redraws a one-line progress bar on a
// terminal's stderr at most ten times a second. Counting is a single atomic add, so it sits in
// the data path; drawing happens on its own goroutine and never on stdout.
type meter struct {
	label string
	total atomic.Int64 // -1 while unknown
	n     atomic.Int64
	start time.Time

	w    io.Writer // nil: count only
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// redrawEvery bounds how often the line is redrawn.
const redrawEvery = 100 * time.Millisecond

// newMeter starts a meter; it draws on w unless w is nil.
func newMeter(w io.Writer, label string, total int64) *meter {
	m := &meter{label: label, start: time.Now(), w: w, stop: make(chan struct{}), done: make(chan struct{})}
	m.total.Store(total)
	if w == nil {
		close(m.done)
		return m
	}
	go m.loop()
	return m
}

// Write counts p, so that a meter can sit in an io.MultiWriter.
func (m *meter) Write(p []byte) (int, error) {
	m.n.Add(int64(len(p)))
	return len(p), nil
}

// SetTotal sets the expected size once it is known (a download learns it from the header).
func (m *meter) SetTotal(n int64) { m.total.Store(n) }

// Bytes is how many bytes have been counted.
func (m *meter) Bytes() int64 { return m.n.Load() }

// Reader counts what is read through r.
func (m *meter) Reader(r io.Reader) io.Reader { return io.TeeReader(r, m) }

// Stop ends the drawing and clears the line. It is safe to call more than once.
func (m *meter) Stop() {
	m.once.Do(func() {
		if m.w != nil {
			close(m.stop)
		}
	})
	<-m.done
}

func (m *meter) loop() {
	defer close(m.done)
	t := time.NewTicker(redrawEvery)
	defer t.Stop()
	draw := func() {
		fmt.Fprint(m.w, "\r"+progressLine(m.label, m.n.Load(), m.total.Load(), time.Since(m.start))+"\x1b[K")
	}
	draw() // at once, so that the wait for the session shows
	for {
		select {
		case <-m.stop:
			fmt.Fprint(m.w, "\r\x1b[K")
			return
		case <-t.C:
			draw()
		}
	}
}

// progressLine renders one state of the bar: the name, bytes so far (of the total, with a
// percentage, when it is known) and the average rate.
func progressLine(label string, n, total int64, elapsed time.Duration) string {
	if r := []rune(label); len(r) > 32 {
		label = "…" + string(r[len(r)-31:])
	}
	var b strings.Builder
	b.WriteString(label)
	b.WriteString("  ")
	b.WriteString(humanBytes(n))
	if total >= 0 {
		pct := 100
		if total > 0 {
			pct = int(min(n, total) * 100 / total)
		}
		fmt.Fprintf(&b, " / %s  %3d%%", humanBytes(total), pct)
	}
	if secs := elapsed.Seconds(); secs > 0 {
		fmt.Fprintf(&b, "  %s/s", humanBytes(int64(float64(n)/secs)))
	}
	return b.String()
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n), -1
	for f >= unit && i < 4 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", f, "KMGTP"[i])
}
