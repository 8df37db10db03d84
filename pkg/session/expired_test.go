package session

import (
	"errors"
	"sync/atomic"
	"testing"
)

// TestResumeNotAfterExpiry: a drop once ResumeOptions.Expired says the session's time is up
// (the agent's limit has passed) is not redialled: Run ends with ErrExpired wrapping the drop.
// Before that, the same drop resumes (TestResumeReconnects).
func TestResumeNotAfterExpiry(t *testing.T) {
	var expired atomic.Bool
	ro := resumeOpts()
	ro.Expired = expired.Load
	rr := startResume(t, Options{}, ro)
	rr.p.out(t, 1, 0, "x")
	rr.out.waitFor(t, "x")
	expired.Store(true)
	rr.p.ws.NetConn().Close()
	err := rr.wait(t)
	if !errors.Is(err, ErrExpired) || !errors.Is(err, ErrConnectionLost) {
		t.Fatalf("Run: %v, want ErrExpired wrapping the lost connection", err)
	}
	select {
	case id := <-rr.dials:
		t.Fatalf("redialled %q after the session's time was up", id)
	case msg := <-rr.status:
		t.Fatalf("status %q after the session's time was up", msg)
	default:
	}
}
