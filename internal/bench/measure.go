package bench

import (
	"bytes"
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

// Stats summarises repeated measurements of one thing, in Unit (ms, MiB/s, s/GiB, MB).
type Stats struct {
	Unit   string  `json:"unit"`
	N      int     `json:"n"`
	Median float64 `json:"median"`
	P10    float64 `json:"p10"`
	P90    float64 `json:"p90"`
	P99    float64 `json:"p99"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

// Summarise computes Stats in milliseconds over durations.
func Summarise(d []time.Duration) Stats {
	ms := make([]float64, len(d))
	for i, v := range d {
		ms[i] = float64(v) / float64(time.Millisecond)
	}
	return SummariseValues("ms", ms)
}

// SummariseValues computes Stats over values measured in unit.
func SummariseValues(unit string, v []float64) Stats {
	if len(v) == 0 {
		return Stats{Unit: unit}
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	q := func(p float64) float64 { return Quantile(s, p) }
	return Stats{Unit: unit, N: len(s), Median: q(0.5), P10: q(0.1), P90: q(0.9), P99: q(0.99), Min: s[0], Max: s[len(s)-1]}
}

// Quantile is the p-quantile (0..1) of sorted values, interpolated linearly between ranks.
func Quantile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	i := p * float64(len(sorted)-1)
	lo, hi := int(math.Floor(i)), int(math.Ceil(i))
	return sorted[lo] + (sorted[hi]-sorted[lo])*(i-float64(lo))
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

// Interleave measures each of fns in turn, runs rounds, after one warm-up round, so that every
// contender sees the same machine: load that comes and goes falls on all of them alike.
func Interleave(runs int, fns ...func() (time.Duration, error)) ([][]time.Duration, error) {
	out := make([][]time.Duration, len(fns))
	for round := -1; round < runs; round++ {
		for i, fn := range fns {
			d, err := fn()
			if err != nil {
				return nil, err
			}
			if round >= 0 {
				out[i] = append(out[i], d)
			}
		}
	}
	return out, nil
}

// Timed runs cmd (its stdin and stdout as the caller set them) and returns how long it took to
// exit successfully; cmd.ProcessState then has its resource usage. Its stderr is kept for the
// error.
func Timed(cmd *exec.Cmd) (time.Duration, error) {
	var stderr bytes.Buffer
	if cmd.Stderr == nil {
		cmd.Stderr = &stderr
	}
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return d, fmt.Errorf("%s: %v: %s", cmd.Path, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return d, nil
}

// Env returns a minimal environment with the given additions, so benchmarks never pick up the
// caller's cloud credentials.
func Env(extra ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(), "LANG=C.UTF-8"}, extra...)
}
