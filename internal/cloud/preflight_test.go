package cloud

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ecsterm/ecsterm/internal/emulator"
)

// preflightCalls is how many preflights the emulator has answered: each makes one
// DescribeInstances call.
func preflightCalls(e *emulator.Emulator) int { return e.Calls("DescribeInstances") }

// TestPreflightReusedBriefly: sessions to one instance started close together (connect and its
// -L port sessions) share one preflight; a later one, past preflightReuse, asks again.
func TestPreflightReusedBriefly(t *testing.T) {
	e := newEmulator(t, emulator.Options{})
	c := newClient(t, e, nil)
	var mu sync.Mutex
	now := time.Now()
	c.clock = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	first, err := c.Preflight(ctx(t), idReady)
	if err != nil {
		t.Fatal(err)
	}
	advance(preflightReuse - time.Second)
	second, err := c.Preflight(ctx(t), idReady)
	if err != nil || *second != *first {
		t.Fatalf("second Preflight = %+v, %v; want %+v", second, err, first)
	}
	if n := preflightCalls(e); n != 1 {
		t.Errorf("two preflights within %v made %d calls, want 1", preflightReuse, n)
	}
	second.Name = "changed by a caller"
	if third, _ := c.Preflight(ctx(t), idReady); third.Name != first.Name {
		t.Errorf("a caller's change to its Instance reached the next caller: %q", third.Name)
	}
	advance(2 * time.Second)
	if _, err := c.Preflight(ctx(t), idReady); err != nil {
		t.Fatal(err)
	}
	if n := preflightCalls(e); n != 2 {
		t.Errorf("a preflight after %v made %d calls in all, want 2", preflightReuse, n)
	}
}

// TestPreflightFailureNotReused: an instance that is not ready is asked about again, so a wait
// for it to start sees the change.
func TestPreflightFailureNotReused(t *testing.T) {
	e := newEmulator(t, emulator.Options{})
	c := newClient(t, e, nil)
	for range 2 {
		in, err := c.Preflight(ctx(t), idStopped)
		if err == nil {
			t.Fatal("a stopped instance passed preflight")
		}
		if in == nil || in.Status != "Stopped" { // doctor reports every check from it
			t.Errorf("a not-ready instance came without its details: %+v", in)
		}
	}
	if n := preflightCalls(e); n != 2 {
		t.Errorf("two preflights of a stopped instance made %d calls, want 2", n)
	}
}

// TestPreflightWaiters: a preflight started while another for the same instance runs waits for
// it and shares its answer, a failure included; only if the first caller gave up (its context
// ended) does the waiter ask again itself, instead of failing with the other's cancellation.
func TestPreflightWaiters(t *testing.T) {
	timeout := fmt.Errorf("DescribeInstances: %w", context.DeadlineExceeded) // as an HTTP timeout reads
	for _, tc := range []struct {
		name      string
		leaderErr error
		abandoned bool // the leader's own context ended
		wantCalls int
		wantErr   error
	}{
		{"shares a success", nil, false, 0, nil},
		{"asks again when the first caller gave up", context.Canceled, true, 1, nil},
		// A timeout talking to the API is an answer: asking again would double the wait.
		{"shares a failure", timeout, false, 0, timeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEmulator(t, emulator.Options{})
			c := newClient(t, e, nil)
			// A call in flight, as if another session's preflight were running.
			leader, first := c.pre.join(idReady, c.now())
			if !first {
				t.Fatal("the first join was not told to make the call")
			}
			waiting := make(chan struct{})
			c.waitHook = func(call *preflightCall) {
				if call == leader {
					close(waiting)
				}
			}
			type result struct {
				in  *Instance
				err error
			}
			done := make(chan result, 1)
			go func() {
				in, err := c.Preflight(ctx(t), idReady)
				done <- result{in, err}
			}()
			<-waiting
			if tc.leaderErr == nil {
				leader.inst = &Instance{ID: idReady, Name: "from the leader"}
			}
			leader.err, leader.abandoned = tc.leaderErr, tc.abandoned
			c.pre.finish(idReady, leader, c.now())
			r := <-done
			switch {
			case r.err != tc.wantErr:
				t.Fatalf("the waiter got %v, want %v", r.err, tc.wantErr)
			case r.err != nil:
			case tc.leaderErr == nil && r.in.Name != "from the leader":
				t.Errorf("the waiter got %+v, not the leader's answer", r.in)
			case tc.leaderErr != nil && r.in.Name != "demo-web-01":
				t.Errorf("the waiter got %+v, want its own answer", r.in)
			}
			if n := preflightCalls(e); n != tc.wantCalls {
				t.Errorf("%d preflight calls, want %d", n, tc.wantCalls)
			}
		})
	}
}
