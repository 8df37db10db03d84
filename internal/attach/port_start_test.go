package attach

import (
	"context"
	"testing"
	"time"

	"github.com/ecsterm/ecsterm/internal/emulator"
)

// startHeld opens a port connection while the emulator holds StartTerminalSession, and returns
// once the call is in the service's hands, with Open's result to come and the hold's release.
func startHeld(t *testing.T, e *emulator.Emulator, ports *Ports, ctx context.Context) (<-chan error, func()) {
	t.Helper()
	entered, release := e.Hold("StartTerminalSession")
	t.Cleanup(release)
	opened := make(chan error, 1)
	go func() {
		st, err := ports.Open(ctx, "", 22)
		if st != nil {
			st.Conn.Close()
			st.Release()
		}
		opened <- err
	}()
	select {
	case <-entered:
	case err := <-opened:
		t.Fatalf("Open returned (%v) before StartTerminalSession", err)
	case <-time.After(30 * time.Second):
		t.Fatal("no StartTerminalSession")
	}
	return opened, release
}

// TestPortsInterruptWhileStarting: the caller is cancelled (an interrupt) while
// StartTerminalSession is in flight. The service starts the session anyway, so Open waits for
// the answer instead of abandoning it, fails, and Close ends the session it names.
func TestPortsInterruptWhileStarting(t *testing.T) {
	e, c := testEmulator(t, emulator.Options{})
	ports := New(Config{API: c}).newPorts(testCtx(t), PortOptions{InstanceID: idDemo})
	ctx, cancel := context.WithCancel(testCtx(t))
	opened, release := startHeld(t, e, ports, ctx)
	cancel()
	release()
	select {
	case err := <-opened:
		if err == nil {
			t.Error("a cancelled Open succeeded")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Open did not return once the call was answered")
	}
	ports.Close()
	if s, n := e.Calls("StartTerminalSession"), e.Calls("EndTerminalSession"); s != 1 || n != s {
		t.Errorf("%d sessions started, %d ended with EndTerminalSession", s, n)
	}
}

// TestPortsCloseWhileStarting: Close runs while StartTerminalSession is in flight (its caller
// not cancelled). Close waits for the answer, and the session it names is ended before Close
// returns: the process may exit right after it.
func TestPortsCloseWhileStarting(t *testing.T) {
	e, c := testEmulator(t, emulator.Options{})
	ports := New(Config{API: c}).newPorts(testCtx(t), PortOptions{InstanceID: idDemo})
	opened, release := startHeld(t, e, ports, testCtx(t))
	type counts struct{ started, ended int }
	closed := make(chan counts, 1)
	go func() {
		ports.Close()
		closed <- counts{e.Calls("StartTerminalSession"), e.Calls("EndTerminalSession")}
	}()
	// Close has begun (it marks Ports closed first) before the call is answered.
	waitFor(t, "Close to begin", func() bool {
		ports.mu.Lock()
		defer ports.mu.Unlock()
		return ports.closed
	})
	release()
	select {
	case got := <-closed:
		if got.started != 1 || got.ended != got.started {
			t.Errorf("when Close returned: %d sessions started, %d ended with EndTerminalSession", got.started, got.ended)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not return once the call was answered")
	}
	if err := <-opened; err == nil {
		t.Error("Open succeeded after Close")
	}
}

// waitFor waits until cond holds; the ticker only paces the looking, the bound is a failsafe.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	failsafe := time.After(30 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-failsafe:
			t.Fatalf("no %s within 30 s", what)
		}
	}
}
