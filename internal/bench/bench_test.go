package bench

import (
	"math"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestSummarise(t *testing.T) {
	s := Summarise([]time.Duration{5 * time.Millisecond, time.Millisecond, 3 * time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond})
	if s.Unit != "ms" || s.N != 5 || s.Median != 3 || s.Min != 1 || s.Max != 5 || math.Abs(s.P10-1.4) > 1e-9 || math.Abs(s.P90-4.6) > 1e-9 {
		t.Errorf("Summarise = %+v", s)
	}
	if s := SummariseValues("MiB/s", nil); s.N != 0 || s.Unit != "MiB/s" {
		t.Errorf("no values: %+v", s)
	}
	if q := Quantile([]float64{7}, 0.99); q != 7 {
		t.Errorf("Quantile of one value = %v", q)
	}
}

func TestTimedRSS(t *testing.T) {
	d, _, err := TimedRSS(exec.Command("sh", "-c", "exit 0"))
	if err != nil || d <= 0 {
		t.Fatalf("TimedRSS = %v, %v", d, err)
	}
	if _, _, err := TimedRSS(exec.Command("sh", "-c", "echo why >&2; exit 3")); err == nil || !strings.Contains(err.Error(), "why") {
		t.Errorf("a failing command: %v, want its stderr in the error", err)
	}
}
