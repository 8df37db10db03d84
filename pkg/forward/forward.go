// Package forward joins byte streams to port sessions: local TCP connections (ssh -L), the
// connections of a local SOCKS5 proxy (ssh -D), or stdin and stdout (ssh's ProxyCommand). Every
// stream gets its own session WebSocket, which the agent treats as its own channel with its own
// TCP connection on the far side (docs/protocol.md, Port forwarding); there is no multiplexing.
//
// It knows nothing of the ECS API: the caller supplies an Opener that starts or reuses a session
// and dials its WebSocket. Listeners come from the caller too, so tests listen on port 0.
package forward

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ecsterm/ecsterm/pkg/session"
)

// Stream is an open port session: its WebSocket, how its input must be treated, and how to give
// it back.
type Stream struct {
	Conn *websocket.Conn
	// HoldInput is session.Options.HoldInput for this stream. The opener knows the agent: older
	// agents drop input that arrives before their TCP connection to the target exists, newer ones
	// wait for it (docs/protocol.md, Port forwarding).
	HoldInput time.Duration
	// Release is called once the stream is over; nil means nothing to do.
	Release func()
	// Resume is session.Options.Resume for this stream: nil keeps it to schema 1.01.
	Resume *session.ResumeOptions
	// KeepAlive is session.Options.KeepAlive for this stream. The opener knows the agent: on
	// agents that re-dial a closed target at any frame, a keep-alive would open a connection
	// nobody asked for, so it sends none (negative).
	KeepAlive time.Duration
}

// Opener opens a port session to port on host as the instance sees it. An empty host is the
// instance itself; otherwise host is an IP address (the service's TargetServer takes one).
type Opener func(ctx context.Context, host string, port int) (*Stream, error)

// Resolver looks up host names for SOCKS requests that carry one. *net.Resolver is one.
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// Forwarder serves listeners and stdio through port sessions. One Forwarder may serve any number
// of listeners at once; its fields must not change while it serves.
type Forwarder struct {
	Open Opener
	// Report is told why a connection failed, once per connection. The listener keeps serving.
	// Nil discards the reports.
	Report func(error)
	// Resolver resolves SOCKS host names; nil means net.DefaultResolver.
	Resolver Resolver
	Logger   *slog.Logger
	// OnPaced is session.Options.OnPaced for every stream: told when the service's bandwidth
	// limit first holds input back. Nil says nothing.
	OnPaced func(bitsPerSecond uint64)
	// Notice is told, in one line without a newline, what a user should hear once: that a
	// listener Bind opened is open to other hosts. Nil says nothing (-q).
	Notice func(string)

	mu    sync.Mutex
	conns map[*Conn]struct{} // being served now, for ~#
	seq   int                // the last Conn.ID given out
}

// Conn describes a forwarded connection being served, for the ~# escape: which listener took
// it, from whom, and where it goes.
type Conn struct {
	ID     int    // 1 for the first connection a Forwarder accepted, then counting up
	SOCKS  bool   // accepted by a -D listener rather than a -L one
	Listen string // the local listener's address
	From   string // the client's address
	To     string // host:port as the instance sees it; empty while a SOCKS client is asking
	Since  time.Time
}

// ConnError says which forward a failed connection belonged to, and why it failed.
type ConnError struct {
	Listen string // the local address, e.g. 127.0.0.1:8080
	Remote string // host:port as the instance sees it
	Err    error
}

func (e *ConnError) Error() string { return fmt.Sprintf("%s -> %s: %v", e.Listen, e.Remote, e.Err) }
func (e *ConnError) Unwrap() error { return e.Err }

// Active is the number of connections being served now, over all listeners.
func (f *Forwarder) Active() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.conns)
}

// Conns lists the connections being served now, over all listeners, oldest first.
func (f *Forwarder) Conns() []Conn {
	f.mu.Lock()
	list := make([]Conn, 0, len(f.conns))
	for c := range f.conns {
		list = append(list, *c)
	}
	f.mu.Unlock()
	slices.SortFunc(list, func(a, b Conn) int { return a.ID - b.ID })
	return list
}

// track registers a connection accepted on ln and returns how to unregister it.
func (f *Forwarder) track(ln net.Listener, c net.Conn, socks bool, to string) (*Conn, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conns == nil {
		f.conns = map[*Conn]struct{}{}
	}
	f.seq++
	tc := &Conn{ID: f.seq, SOCKS: socks, Listen: ln.Addr().String(), From: c.RemoteAddr().String(), To: to, Since: time.Now()}
	f.conns[tc] = struct{}{}
	return tc, func() {
		f.mu.Lock()
		delete(f.conns, tc)
		f.mu.Unlock()
	}
}

// setTo records where a SOCKS connection goes, once its client has said.
func (f *Forwarder) setTo(tc *Conn, to string) {
	f.mu.Lock()
	tc.To = to
	f.mu.Unlock()
}

// Serve forwards each connection accepted on ln to port on host (empty: the instance itself),
// each through its own session, until ctx ends; then it closes ln, waits for the connections
// (which ctx ends too) and returns nil. A connection that fails is reported and closed; the
// others and the listener carry on.
func (f *Forwarder) Serve(ctx context.Context, ln net.Listener, host string, port int) error {
	remote := Describe(host, port)
	return f.serve(ctx, ln, false, remote, func(ctx context.Context, c net.Conn, _ *Conn) {
		label := c.LocalAddr().String()
		st, err := f.Open(ctx, host, port)
		if err != nil {
			f.report(ctx, label, remote, err)
			return
		}
		f.pump(ctx, c, st, label, remote)
	})
}

// Describe names host:port the way reports print it: an empty host is the instance itself.
func Describe(host string, port int) string {
	if host == "" {
		host = "localhost"
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// serve runs the accept loop shared by Serve and ServeSOCKS.
// socks and to describe the connections for Conns.
func (f *Forwarder) serve(ctx context.Context, ln net.Listener, socks bool, to string, handle func(context.Context, net.Conn, *Conn)) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Out of file descriptors and the like: back off as net/http does, never give up.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			f.reportErr(ctx, fmt.Errorf("%s: accepting connections: %w", ln.Addr(), err))
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return nil
			}
			continue
		}
		backoff = 0
		tc, untrack := f.track(ln, c, socks, to)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer untrack()
			defer c.Close()
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetNoDelay(true) // an interactive protocol (ssh) must not wait for Nagle
			}
			handle(ctx, c, tc)
		}()
	}
}

// pump joins c to an open stream until either side ends, then releases the stream. Local end of
// file sends Close ("1"), which ends the agent's connection to the target: the protocol has no
// half-close (docs/protocol.md, Payloads: Close; Port forwarding). The remote side closing ends c
// (the caller closes it).
func (f *Forwarder) pump(ctx context.Context, c net.Conn, st *Stream, label, remote string) {
	if st.Release != nil {
		defer st.Release()
	}
	// Port frames carry at most 2 KiB; written one by one they cost a system call each here and
	// another in the reader of c. The coalescer writes what gathered during its previous write.
	out := session.NewCoalescer(c)
	// When the user leaves, a client that stopped reading must not hold ecsterm: without this,
	// the coalescer's write would wait on c, the session's reader on the coalescer, and Run on
	// its reader, for ever.
	stop := context.AfterFunc(ctx, func() {
		out.Abort()
		c.Close()
	})
	defer stop()
	err := session.Run(ctx, st.Conn, session.Options{
		Stdin: c, Stdout: out, OnEOF: session.EOFClose, HoldInput: st.HoldInput, Logger: f.Logger, Resume: st.Resume, KeepAlive: st.KeepAlive,
		OnPaced: f.OnPaced,
	})
	if cerr := out.Close(); err == nil && cerr != nil && ctx.Err() == nil {
		err = cerr
	}
	if err != nil {
		f.report(ctx, label, remote, explain(err))
	}
}

// Stdio joins in and out to port on host through one session, for ssh's ProxyCommand: end of
// file on in sends Close ("1"), and the remote side closing returns nil. It returns ctx's error
// when ctx ends first (after telling the agent to close).
func (f *Forwarder) Stdio(ctx context.Context, host string, port int, in io.Reader, out io.Writer) error {
	st, err := f.Open(ctx, host, port)
	if err != nil {
		return err
	}
	if st.Release != nil {
		defer st.Release()
	}
	co := session.NewCoalescer(out)
	defer context.AfterFunc(ctx, co.Abort)() // as in pump: a stuck stdout must not hold ecsterm
	err = session.Run(ctx, st.Conn, session.Options{
		Stdin: in, Stdout: co, OnEOF: session.EOFClose, HoldInput: st.HoldInput, Logger: f.Logger, Resume: st.Resume, KeepAlive: st.KeepAlive,
		OnPaced: f.OnPaced,
	})
	if cerr := co.Close(); err == nil && ctx.Err() == nil {
		err = cerr
	}
	return explain(err)
}

// explain adds what a user can check to the closes that have a likely local cause.
func explain(err error) error {
	var ce *session.ClosedError
	if errors.As(err, &ce) && ce.Reason == "OpenChannelFailed" {
		return fmt.Errorf("%w; is anything listening there?", err)
	}
	return err
}

func (f *Forwarder) report(ctx context.Context, listen, remote string, err error) {
	if err != nil {
		f.reportErr(ctx, &ConnError{Listen: listen, Remote: remote, Err: err})
	}
}

func (f *Forwarder) reportErr(ctx context.Context, err error) {
	if ctx.Err() != nil || f.Report == nil {
		return // after Ctrl-C, connections end by design
	}
	f.Report(err)
}
