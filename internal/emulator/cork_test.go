package emulator

import (
	"bytes"
	"errors"
	"net"
	"slices"
	"testing"
	"time"
)

// recordConn is a net.Conn that records each Write, and fails them once fail is set.
type recordConn struct {
	net.Conn
	writes [][]byte
	fail   error
	closed bool
	events []string // "write" and "deadline <t>", in order
}

func (r *recordConn) Write(p []byte) (int, error) {
	if r.fail != nil {
		return 0, r.fail
	}
	r.writes = append(r.writes, append([]byte(nil), p...))
	r.events = append(r.events, "write")
	return len(p), nil
}

func (r *recordConn) Close() error { r.closed = true; return nil }
func (r *recordConn) SetWriteDeadline(t time.Time) error {
	r.events = append(r.events, "deadline "+t.Format(time.StampMilli))
	return nil
}

// TestCorkDefersWriteDeadlines: gorilla sets a deadline before every frame; while corked they
// are not passed on, and the last one is set once, just before the write that sends the frames.
func TestCorkDefersWriteDeadlines(t *testing.T) {
	rc := &recordConn{}
	c := &corkConn{Conn: rc}
	t0 := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	c.cork()
	for i := range 3 {
		_ = c.SetWriteDeadline(t0.Add(time.Duration(i) * time.Second))
		_, _ = c.Write([]byte("frame"))
	}
	if len(rc.events) != 0 {
		t.Fatalf("while corked the connection saw %q, want nothing", rc.events)
	}
	if err := c.uncork(); err != nil {
		t.Fatal(err)
	}
	want := []string{"deadline " + t0.Add(2*time.Second).Format(time.StampMilli), "write"}
	if !slices.Equal(rc.events, want) {
		t.Errorf("after uncork: %q, want %q", rc.events, want)
	}
	// Uncorked, a deadline goes straight through, and a deferred one is not applied later.
	_ = c.SetWriteDeadline(t0.Add(time.Minute))
	_, _ = c.Write([]byte("x"))
	want = append(want, "deadline "+t0.Add(time.Minute).Format(time.StampMilli), "write")
	if !slices.Equal(rc.events, want) {
		t.Errorf("uncorked: %q, want %q", rc.events, want)
	}
}

func TestCorkHoldsWritesUntilUncorked(t *testing.T) {
	rc := &recordConn{}
	c := &corkConn{Conn: rc}
	c.Write([]byte("a"))
	if len(rc.writes) != 1 {
		t.Fatalf("uncorked write: %d writes, want it through at once", len(rc.writes))
	}
	c.cork()
	for _, s := range []string{"b", "cc", "ddd"} {
		if n, err := c.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("corked Write(%q) = %d, %v", s, n, err)
		}
	}
	if len(rc.writes) != 1 {
		t.Fatalf("corked writes went out: %q", rc.writes)
	}
	if err := c.uncork(); err != nil {
		t.Fatal(err)
	}
	if len(rc.writes) != 2 || string(rc.writes[1]) != "bccddd" {
		t.Fatalf("after uncork: %q, want one write of bccddd", rc.writes)
	}
	c.Write([]byte("e"))
	if len(rc.writes) != 3 {
		t.Fatalf("write after uncork held: %q", rc.writes)
	}
	var nilCork *corkConn
	if err := nilCork.uncork(); err != nil {
		t.Errorf("nil uncork: %v", err)
	}
}

func TestCorkBoundsWhatItHolds(t *testing.T) {
	rc := &recordConn{}
	c := &corkConn{Conn: rc}
	c.cork()
	big := bytes.Repeat([]byte("x"), maxHeld-1)
	c.Write(big)
	c.Write([]byte("yz")) // would pass maxHeld: what is held goes, and this starts the next batch
	if len(rc.writes) != 1 || len(rc.writes[0]) != maxHeld-1 {
		t.Fatalf("%d writes, want the held %d bytes alone", len(rc.writes), maxHeld-1)
	}
	c.Write([]byte("!"))
	if err := c.uncork(); err != nil {
		t.Fatal(err)
	}
	if len(rc.writes) != 2 || string(rc.writes[1]) != "yz!" {
		t.Fatalf("writes %q after uncork, want the second batch yz! in one", rc.writes[1:])
	}
	// A write larger than a cork holds goes at once, after what was held.
	c.cork()
	c.Write([]byte("a"))
	c.Write(bytes.Repeat([]byte("b"), maxHeld+1))
	if len(rc.writes) != 4 || string(rc.writes[2]) != "a" || len(rc.writes[3]) != maxHeld+1 {
		t.Fatalf("a write over maxHeld: %d writes, want a then it", len(rc.writes))
	}
}

func TestCorkFailedFlushFailsLaterWrites(t *testing.T) {
	rc := &recordConn{}
	c := &corkConn{Conn: rc}
	c.cork()
	c.Write([]byte("held"))
	broken := errors.New("connection reset")
	rc.fail = broken
	if err := c.uncork(); !errors.Is(err, broken) {
		t.Fatalf("uncork = %v, want the write's error", err)
	}
	rc.fail = nil // even if the connection seemed to recover, the stream has a hole now
	c.cork()
	if _, err := c.Write([]byte("next")); !errors.Is(err, broken) {
		t.Fatalf("Write after a failed flush = %v, want the same error", err)
	}
	if len(rc.writes) != 0 {
		t.Fatalf("bytes went out after a failed write: %q", rc.writes)
	}
}

func TestCorkCloseSendsWhatIsHeld(t *testing.T) {
	rc := &recordConn{}
	c := &corkConn{Conn: rc}
	c.cork()
	c.Write([]byte("status+close"))
	c.Close()
	if !rc.closed || len(rc.writes) != 1 || string(rc.writes[0]) != "status+close" {
		t.Fatalf("Close: closed %v, writes %q; want the held bytes sent, then the close", rc.closed, rc.writes)
	}
}
