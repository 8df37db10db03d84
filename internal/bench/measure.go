package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"sort"
	"time"

	"github.com/creack/pty"
)

// Stats summarises repeated measurements of one thing.
type Stats struct {
	N      int     `json:"n"`
	Median float64 `json:"median_ms"`
	P10    float64 `json:"p10_ms"`
	P90    float64 `json:"p90_ms"`
	Min    float64 `json:"min_ms"`
	Max    float64 `json:"max_ms"`
}

// Summarise computes Stats over durations.
func Summarise(d []time.Duration) Stats {
	if len(d) == 0 {
		return Stats{}
	}
	ms := make([]float64, len(d))
	for i, v := range d {
		ms[i] = float64(v) / float64(time.Millisecond)
	}
	sort.Float64s(ms)
	q := func(p float64) float64 {
		i := p * float64(len(ms)-1)
		lo, hi := int(math.Floor(i)), int(math.Ceil(i))
		return ms[lo] + (ms[hi]-ms[lo])*(i-float64(lo))
	}
	return Stats{N: len(ms), Median: q(0.5), P10: q(0.1), P90: q(0.9), Min: ms[0], Max: ms[len(ms)-1]}
}

// WallTime runs a fresh command from mk and returns how long it took to exit successfully.
func WallTime(mk func() *exec.Cmd) (time.Duration, error) {
	cmd := mk()
	start := time.Now()
	out, err := cmd.CombinedOutput()
	d := time.Since(start)
	if err != nil {
		return d, fmt.Errorf("%s: %v: %s", cmd.Path, err, out)
	}
	return d, nil
}

// FirstByte starts a fresh command from mk on a new PTY and returns the time from start to the
// first byte it writes to the terminal. The process is then killed.
func FirstByte(ctx context.Context, mk func() *exec.Cmd) (time.Duration, error) {
	cmd := mk()
	start := time.Now()
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 80})
	if err != nil {
		return 0, err
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
		f.Close()
	}()
	got := make(chan error, 1)
	var d time.Duration
	go func() {
		buf := make([]byte, 1)
		_, err := io.ReadFull(f, buf)
		d = time.Since(start)
		got <- err
	}()
	select {
	case err := <-got:
		return d, err
	case <-time.After(30 * time.Second):
		return 0, errors.New("no output within 30 s")
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// Pair measures a and b alternately, runs times each, after one warm-up of each.
func Pair(runs int, a, b func() (time.Duration, error)) (sa, sb []time.Duration, err error) {
	if _, err := a(); err != nil {
		return nil, nil, err
	}
	if _, err := b(); err != nil {
		return nil, nil, err
	}
	for range runs {
		da, err := a()
		if err != nil {
			return nil, nil, err
		}
		db, err := b()
		if err != nil {
			return nil, nil, err
		}
		sa, sb = append(sa, da), append(sb, db)
	}
	return sa, sb, nil
}

// Env returns a minimal environment with the given additions, so benchmarks never pick up the
// caller's cloud credentials.
func Env(extra ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(), "LANG=C.UTF-8"}, extra...)
}
