package forward

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
)

// Listener is a bound -L or -D, ready to serve: Bind opens them all (or none), Serve runs them.
// `ecsterm forward` and `ecsterm connect -L/-D` share it.
type Listener struct {
	net.Listener
	SOCKS bool   // a -D listener
	Host  string // the Opener's host for -L: "" for the instance itself, else an IP
	Port  int    // the -L target port
	// Shown is the -L host as the user wrote it ("localhost" for the instance itself), and
	// Target the IP it resolved to when that was a name (else empty).
	Shown  string
	Target string
}

// To is where the listener's connections go, as a user reads it: host:port (and the IP a
// name resolved to), or SOCKS5 for a -D listener.
func (l *Listener) To() string {
	if l.SOCKS {
		return "SOCKS5"
	}
	to := Describe(l.Shown, l.Port)
	if l.Target != "" {
		to += " (" + l.Target + ")"
	}
	return to
}

// Bind resolves the -L hosts (names on this machine, as Target does) and opens a listener for
// every spec, -L ones first, in order. Either all are open or none is: a half-set-up forward
// would fail later, in a way the user might not notice.
func (f *Forwarder) Bind(ctx context.Context, locals []LocalSpec, dynamics []DynamicSpec) ([]*Listener, error) {
	var lns []*Listener
	fail := func(err error) ([]*Listener, error) {
		CloseAll(lns)
		return nil, err
	}
	for _, s := range locals {
		host, err := f.Target(ctx, s.Host)
		if err != nil {
			return fail(fmt.Errorf("-L %s: %w", s, err))
		}
		l := &Listener{Host: host, Port: s.HostPort, Shown: s.Host}
		if l.Shown == "" {
			l.Shown = "localhost"
		}
		if host != "" && host != s.Host {
			l.Target = host
		}
		if l.Listener, err = listenTCP(s.Listen()); err != nil {
			return fail(err)
		}
		lns = append(lns, l)
	}
	for _, s := range dynamics {
		ln, err := listenTCP(s.Listen())
		if err != nil {
			return fail(err)
		}
		lns = append(lns, &Listener{Listener: ln, SOCKS: true})
	}
	if f.Notice != nil {
		for _, l := range lns {
			if l.OpenToOthers() {
				f.Notice(fmt.Sprintf("%s is open to other hosts, not only this machine", l.Addr()))
			}
		}
	}
	return lns, nil
}

// OpenToOthers reports whether other hosts can connect to l: it listens on every interface
// (0.0.0.0, [::], or -L '*:…') or on an address that is not loopback. ecsterm allows it, as ssh
// does, but says so.
func (l *Listener) OpenToOthers() bool {
	a, ok := l.Addr().(*net.TCPAddr)
	return !ok || !a.IP.IsLoopback()
}

// ServeAll serves every listener until ctx ends, then returns once they are closed and their
// connections have ended.
func (f *Forwarder) ServeAll(ctx context.Context, lns []*Listener) {
	var wg sync.WaitGroup
	for _, l := range lns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.ServeListener(ctx, l)
		}()
	}
	wg.Wait()
}

// ServeListener serves l, as a SOCKS5 proxy or a -L forward, as Serve and ServeSOCKS do: until
// ctx ends or l is closed, and its connections have ended.
func (f *Forwarder) ServeListener(ctx context.Context, l *Listener) {
	if l.SOCKS {
		_ = f.ServeSOCKS(ctx, l.Listener)
	} else {
		_ = f.Serve(ctx, l.Listener, l.Host, l.Port)
	}
}

// CloseAll closes listeners that will not be served.
func CloseAll(lns []*Listener) {
	for _, l := range lns {
		l.Close()
	}
}

// netListen is net.Listen; unit tests make it listen on loopback only (exposed_test.go).
var netListen = net.Listen

func listenTCP(addr string) (net.Listener, error) {
	ln, err := netListen("tcp", addr)
	if err != nil {
		var oe *net.OpError
		if errors.As(err, &oe) && oe.Err != nil {
			err = oe.Err
		}
		return nil, fmt.Errorf("cannot listen on %s: %v", addr, err)
	}
	return ln, nil
}
