package session

import (
	"context"
	"errors"
	"testing"
	"time"
)

// cost is what n bytes take on the link at bps, as the pacer computes it.
func cost(n int, bps uint64) time.Duration {
	return time.Duration(float64(n*8) / float64(bps) * float64(time.Second))
}

// waitWithin calls p.wait and fails the test if it blocks: every caller expects an immediate answer.
func waitWithin(t *testing.T, p *pacer, ctx context.Context, n int) error {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- p.wait(ctx, n) }()
	select {
	case err := <-errc:
		return err
	case <-time.After(patience):
		t.Fatal("wait blocked")
	}
	panic("unreachable")
}

func TestPacerUnlimitedNeverWaits(t *testing.T) {
	var p pacer
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a wait that blocked would return this error
	for range 100 {
		if err := waitWithin(t, &p, ctx, MaxInputChunk); err != nil {
			t.Fatalf("wait without a rate: %v", err)
		}
	}
	if !p.free.IsZero() {
		t.Fatalf("the clock moved without a rate: %v", p.free)
	}
}

func TestPacerAdvancesVirtualClock(t *testing.T) {
	const bps = 8000 // 1000 bytes per second
	var p pacer
	p.setRate(bps)

	// An idle link starts from now: 50 bytes cost 50 ms, inside the burst allowance, so no wait.
	before := time.Now()
	if err := waitWithin(t, &p, context.Background(), 50); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	if d := cost(50, bps); d != 50*time.Millisecond || p.free.Before(before.Add(d)) || p.free.After(after.Add(d)) {
		t.Fatalf("free = now%+v, want now+%v", p.free.Sub(before), d)
	}

	// A busy link: each wait adds exactly n*8/bps to the clock, whatever the wait does.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p.free = time.Now().Add(time.Hour)
	for _, n := range []int{1, 1024, 7} {
		was := p.free
		if err := waitWithin(t, &p, ctx, n); !errors.Is(err, context.Canceled) {
			t.Fatalf("wait on a busy link with a cancelled ctx: %v", err)
		}
		if got, want := p.free.Sub(was), cost(n, bps); got != want {
			t.Fatalf("%d bytes moved the clock %v, want %v", n, got, want)
		}
	}
}

func TestPacerWaitsBeyondBurst(t *testing.T) {
	const bps = 8000 // 1000 bytes per second
	var p pacer
	p.setRate(bps)
	// 150 bytes cost 150 ms; the first 100 ms are burst, so the wait is at least 50 ms. Only a
	// lower bound is checked: timers never fire early.
	start := time.Now()
	if err := p.wait(context.Background(), 150); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < cost(150, bps)-burst {
		t.Fatalf("waited %v, want at least %v", el, cost(150, bps)-burst)
	}
}

func TestPacerTinyRate(t *testing.T) {
	// The official formula divides by zero below 16384 bps (docs/protocol.md, Payloads: the Stream
	// rate); the pacer must not.
	for _, bps := range []uint64{1, 7, 16383} {
		var p pacer
		p.setRate(bps)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		before := time.Now()
		if err := waitWithin(t, &p, ctx, MaxInputChunk); !errors.Is(err, context.Canceled) {
			t.Fatalf("%d bps: wait = %v, want context.Canceled", bps, err)
		}
		if d := cost(MaxInputChunk, bps); d <= 0 || p.free.Before(before.Add(d)) {
			t.Fatalf("%d bps: free = now%+v, want at least now+%v", bps, p.free.Sub(before), d)
		}
	}
}

func TestPacerWaitEndsOnCancel(t *testing.T) {
	var p pacer
	p.setRate(1) // 1024 bytes take 8192 s
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- p.wait(ctx, MaxInputChunk) }()
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("wait = %v, want context.Canceled", err)
		}
	case <-time.After(patience):
		t.Fatal("wait ignored the cancel")
	}
}

func TestPacerRateChange(t *testing.T) {
	var p pacer
	p.setRate(1)
	p.setRate(0) // back to unlimited: the pacer itself treats 0 as "no limit"
	if err := waitWithin(t, &p, context.Background(), MaxInputChunk); err != nil {
		t.Fatal(err)
	}
}
