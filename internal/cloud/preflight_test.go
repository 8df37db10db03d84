package cloud

import (
	"context"
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
// it and shares its answer; if the first caller gave up, the waiter asks again itself instead
// of failing with the other's cancellation.
func TestPreflightWaiters(t *testing.T) {
	for _, tc := range []struct {
		name      string
		leaderErr error
		wantCalls int
	}{
		{"shares a success", nil, 0},
		{"asks again when the first caller gave up", context.Canceled, 1},
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
			leader.err = tc.leaderErr
			c.pre.finish(idReady, leader, c.now())
			r := <-done
			switch {
			case r.err != nil:
				t.Fatalf("the waiter got %v", r.err)
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
