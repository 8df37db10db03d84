package bench

import (
	"fmt"
	"os/exec"
	"sync"
	"time"
)

// Peak RSS is read from the process itself while it runs, not from its rusage at exit: Go starts
// children with vfork (CLONE_VM), and Linux then charges the parent's peak resident set to the
// child when it execs (exec_mmap records the old mm's high-water mark in the child's maxrss), so
// every child of a large benchmark process would report at least the benchmark's own size.

// PeakRSS returns the peak resident set of the running process pid in MB (10⁶ bytes), and false
// where it cannot be read (a process that has exited, a system without /proc).
func PeakRSS(pid int) (float64, bool) { return peakRSS(pid) }

// RSSWatch follows a running process's peak resident set until Stop.
type RSSWatch struct {
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	peak float64
	ok   bool
}

// rssPoll is how often a watch reads the peak. The peak only grows, so a read misses only what
// the process adds in its last interval.
const rssPoll = 10 * time.Millisecond

// WatchRSS starts following pid.
func WatchRSS(pid int) *RSSWatch {
	w := &RSSWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		t := time.NewTicker(rssPoll)
		defer t.Stop()
		for {
			w.read(pid)
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
		}
	}()
	return w
}

func (w *RSSWatch) read(pid int) {
	if v, ok := peakRSS(pid); ok {
		w.mu.Lock()
		w.peak, w.ok = max(w.peak, v), true
		w.mu.Unlock()
	}
}

// Stop ends the watch and returns the last peak seen (false if none could be read).
func (w *RSSWatch) Stop() (float64, bool) {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.peak, w.ok
}

// TimedRSS is Timed, also following the process's peak resident set in MB (0 where it cannot be
// read).
func TimedRSS(cmd *exec.Cmd) (time.Duration, float64, error) {
	if cmd.Stderr == nil {
		cmd.Stderr = &tail{max: 4096}
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	w := WatchRSS(cmd.Process.Pid)
	err := cmd.Wait()
	d := time.Since(start)
	peak, _ := w.Stop()
	if err != nil {
		msg := ""
		if t, ok := cmd.Stderr.(*tail); ok {
			msg = string(t.b)
		}
		return d, peak, fmt.Errorf("%s: %v: %s", cmd.Path, err, msg)
	}
	return d, peak, nil
}

// tail keeps the last max bytes written.
type tail struct {
	max int
	b   []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}
