package forward

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// running is a Forwarder serving one listener until the test ends (or stop is called).
type running struct {
	fw   *Forwarder
	addr string
	rep  *reports
	stop func() error
}

func startLocal(t *testing.T, g *gateway, host string, port int) *running {
	t.Helper()
	rep := newReports()
	fw := &Forwarder{Open: g.open, Report: rep.add}
	ln := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fw.Serve(ctx, ln, host, port) }()
	var once sync.Once
	var err error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(patience):
				err = errors.New("Serve did not return after cancel")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return &running{fw: fw, addr: ln.Addr().String(), rep: rep, stop: stop}
}

func echo(c net.Conn) { _, _ = io.Copy(c, c) }

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, patience)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(patience))
	return c
}

// roundTrip writes n random bytes to c and checks they come back, with reading and writing at
// once so that neither side's buffers decide the outcome.
func roundTrip(t *testing.T, c net.Conn, n int) {
	t.Helper()
	data := make([]byte, n)
	rand.Read(data)
	werr := make(chan error, 1)
	go func() { _, err := c.Write(data); werr <- err }()
	got := make([]byte, n)
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("reading the echo: %v", err)
	}
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("echoed bytes differ")
	}
}

func TestServeEcho(t *testing.T) {
	g := newGateway(t)
	r := startLocal(t, g, "", serveTarget(t, echo))
	c := dial(t, r.addr)
	roundTrip(t, c, 1<<20)
	if n := r.fw.Active(); n != 1 {
		t.Errorf("Active() = %d during a connection, want 1", n)
	}
	c.Close()
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if n := r.fw.Active(); n != 0 {
		t.Errorf("Active() = %d after Serve returned, want 0", n)
	}
	if n := g.released.Load(); n != 1 {
		t.Errorf("%d streams released, want 1", n)
	}
	if hosts := g.asked(); len(hosts) != 1 || hosts[0] != "" {
		t.Errorf("opened %q, want the instance itself", hosts)
	}
}

func TestServeParallel(t *testing.T) {
	g := newGateway(t)
	r := startLocal(t, g, "", serveTarget(t, echo))
	var wg sync.WaitGroup
	for range 8 {
		c := dial(t, r.addr)
		wg.Add(1)
		go func() {
			defer wg.Done()
			roundTrip(t, c, 256<<10)
		}()
	}
	wg.Wait()
}

func TestServeServerSpeaksFirst(t *testing.T) {
	g := newGateway(t)
	port := serveTarget(t, func(c net.Conn) {
		_, _ = io.WriteString(c, "SSH-2.0-test\r\n")
		echo(c)
	})
	r := startLocal(t, g, "", port)
	c := dial(t, r.addr)
	banner := make([]byte, len("SSH-2.0-test\r\n"))
	if _, err := io.ReadFull(c, banner); err != nil || string(banner) != "SSH-2.0-test\r\n" {
		t.Fatalf("banner %q, %v", banner, err)
	}
	roundTrip(t, c, 4096)
}

// TestServeHalfClose: the local client's end of file reaches the server as the end of its
// connection (the protocol has no half-close: the Close frame ends the agent's connection).
func TestServeHalfClose(t *testing.T) {
	g := newGateway(t)
	gotEOF := make(chan []byte, 1)
	port := serveTarget(t, func(c net.Conn) {
		b, _ := io.ReadAll(c)
		gotEOF <- b
	})
	r := startLocal(t, g, "", port)
	c := dial(t, r.addr)
	if _, err := io.WriteString(c, "last words"); err != nil {
		t.Fatal(err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-gotEOF:
		if string(b) != "last words" {
			t.Errorf("server read %q before end of file", b)
		}
	case <-time.After(patience):
		t.Fatal("the server never saw end of file")
	}
	// And the local socket ends as the session does.
	if _, err := io.ReadAll(c); err != nil {
		t.Errorf("local socket did not end cleanly: %v", err)
	}
}

func TestServeRemoteCloseEndsLocal(t *testing.T) {
	g := newGateway(t)
	port := serveTarget(t, func(c net.Conn) { _, _ = io.WriteString(c, "bye") })
	r := startLocal(t, g, "", port)
	c := dial(t, r.addr)
	b, err := io.ReadAll(c)
	if err != nil || string(b) != "bye" {
		t.Fatalf("read %q, %v; want \"bye\" then end of file", b, err)
	}
}

// TestServeFailedOpen: a connection whose session fails is reported and closed; the listener
// and the next connection are fine.
func TestServeFailedOpen(t *testing.T) {
	g := newGateway(t)
	r := startLocal(t, g, "10.0.0.7", serveTarget(t, echo))
	g.refuse.Store(true)
	c := dial(t, r.addr)
	if b, err := io.ReadAll(c); err != nil || len(b) != 0 {
		t.Errorf("refused connection read %q, %v; want an immediate end", b, err)
	}
	err := r.rep.wait(t)
	var ce *ConnError
	if !errors.As(err, &ce) || !errors.Is(err, ErrRefused) || !strings.HasPrefix(err.Error(), r.addr+" -> 10.0.0.7:") {
		t.Errorf("report %v, want a ConnError naming both ends and wrapping ErrRefused", err)
	}
	roundTrip(t, dial(t, r.addr), 1000)
}

// TestServeTargetDown: the agent cannot connect; the report says where to look.
func TestServeTargetDown(t *testing.T) {
	g := newGateway(t)
	ln := listen(t)
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	r := startLocal(t, g, "", port)
	c := dial(t, r.addr)
	_, _ = io.ReadAll(c)
	if err := r.rep.wait(t); !strings.Contains(err.Error(), "OpenChannelFailed") || !strings.Contains(err.Error(), "listening") {
		t.Errorf("report %v, want OpenChannelFailed and a hint", err)
	}
}

// TestServeCancelEndsConnections: cancelling ends live connections and Serve, and releases the
// streams; nothing is reported for connections ended on purpose.
func TestServeCancelEndsConnections(t *testing.T) {
	g := newGateway(t)
	r := startLocal(t, g, "", serveTarget(t, echo))
	c := dial(t, r.addr)
	roundTrip(t, c, 100)
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(c); err != nil {
		t.Errorf("after cancel the local socket did not end: %v", err)
	}
	if _, err := net.Dial("tcp", r.addr); err == nil {
		t.Error("the listener still accepts after cancel")
	}
	if n := g.released.Load(); n != 1 {
		t.Errorf("%d streams released, want 1", n)
	}
	select {
	case <-r.rep.got:
		t.Errorf("reported %v after cancel", r.rep.errs)
	default:
	}
}

func TestStdio(t *testing.T) {
	g := newGateway(t)
	t.Run("remote close ends it", func(t *testing.T) {
		port := serveTarget(t, func(c net.Conn) { _, _ = io.WriteString(c, "SSH-2.0-bye\r\n") })
		pr, pw := io.Pipe() // stdin that stays open
		defer pw.Close()
		var out bytes.Buffer
		fw := &Forwarder{Open: g.open}
		if err := fw.Stdio(context.Background(), "", port, pr, &out); err != nil {
			t.Fatal(err)
		}
		if out.String() != "SSH-2.0-bye\r\n" {
			t.Errorf("stdout %q", out.String())
		}
	})
	t.Run("stdin EOF reaches the server", func(t *testing.T) {
		got := make(chan string, 1)
		port := serveTarget(t, func(c net.Conn) {
			b, _ := io.ReadAll(c)
			got <- string(b)
		})
		fw := &Forwarder{Open: g.open}
		if err := fw.Stdio(context.Background(), "", port, strings.NewReader("from stdin"), io.Discard); err != nil {
			t.Fatal(err)
		}
		select {
		case s := <-got:
			if s != "from stdin" {
				t.Errorf("server read %q", s)
			}
		case <-time.After(patience):
			t.Fatal("server never saw end of file")
		}
	})
	t.Run("open fails", func(t *testing.T) {
		g.refuse.Store(true)
		fw := &Forwarder{Open: g.open}
		if err := fw.Stdio(context.Background(), "", 1, strings.NewReader(""), io.Discard); !errors.Is(err, ErrRefused) {
			t.Errorf("Stdio = %v, want the opener's error", err)
		}
	})
}

// TestServeReturnsWithStalledClient: a client that stops reading while the target keeps sending
// must not hold the forward once the user leaves. Backpressure runs back from the client through
// ecsterm and the gateway to the target; once the target's own writes stall, everything between
// is full, and cancelling must still end Serve.
func TestServeReturnsWithStalledClient(t *testing.T) {
	g := newGateway(t)
	stalled := make(chan struct{})
	var once sync.Once
	port := serveTarget(t, func(c net.Conn) {
		block := make([]byte, 64<<10)
		for {
			// A write that cannot finish within the deadline means the pipe is full.
			_ = c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
			_, err := c.Write(block)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				once.Do(func() { close(stalled) })
				continue
			}
			if err != nil {
				return
			}
		}
	})
	r := startLocal(t, g, "", port)
	c := dial(t, r.addr)
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096) // the client reads nothing; a small window fills sooner
	}
	select {
	case <-stalled:
	case <-time.After(patience):
		t.Fatal("the target's writes never stalled behind a client that does not read")
	}
	if err := r.stop(); err != nil {
		t.Fatal(err) // "Serve did not return after cancel"
	}
}
