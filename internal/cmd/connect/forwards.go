package connect

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ecsterm/ecsterm/internal/attach"
	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/text"
	"github.com/ecsterm/ecsterm/pkg/forward"
)

// forwards are connect's -L and -D, and those added with ~C: listeners served through port
// sessions on the same instance while the interactive session lasts. The port sessions start
// with the first forward, so a connect that forwards nothing makes no extra API calls.
type forwards struct {
	ctx    context.Context // ends with the session
	cancel context.CancelFunc
	newFw  func() (*forward.Forwarder, attach.PortOpener)
	errOut *cmdutil.LockedWriter

	active atomic.Pointer[forward.Forwarder] // fw, for stop to read without the lock

	mu    sync.Mutex
	fw    *forward.Forwarder // nil until the first forward
	ports attach.PortOpener
	lns   []*forward.Listener // being served, in the order they were added
	wg    sync.WaitGroup      // one per listener being served
}

func newForwards(ctx context.Context, sessions cmdutil.Sessions, opts *Options, errOut *cmdutil.LockedWriter) *forwards {
	fctx, cancel := context.WithCancel(ctx)
	fd := &forwards{ctx: fctx, cancel: cancel, errOut: errOut}
	var (
		paced  func(uint64)
		notice func(string)
	)
	if !opts.Quiet {
		paced = attach.PacedNotice(errOut, "", "\n")
		notice = func(s string) { fmt.Fprintf(errOut, "ecsterm: %s\n", s) }
	}
	fd.newFw = func() (*forward.Forwarder, attach.PortOpener) {
		ports := sessions.Ports(fctx, attach.PortOptions{InstanceID: opts.InstanceID})
		return &forward.Forwarder{
			Open:   ports.Open,
			Logger: opts.Logger,
			// A plain \n, as every line on errOut: the terminal is raw while the session runs,
			// and ErrOut then ends the line with \r\n itself (internal/iostreams).
			Report:  func(err error) { fmt.Fprintf(errOut, "ecsterm: %s\n", text.OneLine(err.Error())) },
			OnPaced: paced,
			Notice:  notice,
		}, ports
	}
	return fd
}

// bindTimeout bounds a ~C forward's name lookup: the command runs on the keyboard's goroutine.
const bindTimeout = 5 * time.Second

// add binds the specs' listeners (all or none) and serves them. The lock is not held while
// binding, which may look a host name up: stop must be able to end the session meanwhile.
func (fd *forwards) add(locals []forward.LocalSpec, dynamics []forward.DynamicSpec) ([]*forward.Listener, error) {
	fd.mu.Lock()
	if err := fd.ctx.Err(); err != nil {
		fd.mu.Unlock()
		return nil, err
	}
	if fd.fw == nil {
		fd.fw, fd.ports = fd.newFw()
		fd.active.Store(fd.fw)
	}
	fw := fd.fw
	fd.mu.Unlock()

	bctx, cancel := context.WithTimeout(fd.ctx, bindTimeout)
	lns, err := fw.Bind(bctx, locals, dynamics)
	cancel()
	if err != nil {
		return nil, err
	}
	fd.mu.Lock()
	defer fd.mu.Unlock()
	if err := fd.ctx.Err(); err != nil { // stop came while binding
		forward.CloseAll(lns)
		return nil, err
	}
	for _, l := range lns {
		fd.lns = append(fd.lns, l)
		fd.wg.Add(1)
		go func() {
			defer fd.wg.Done()
			fw.ServeListener(fd.ctx, l)
		}()
	}
	return lns, nil
}

// start binds the command line's -L and -D before the session opens, so that a port in
// use stops the connect at once rather than leaving the user in a shell without the forward
// they asked for.
func (fd *forwards) start(opts *Options) error {
	if len(opts.Locals)+len(opts.Dynamics) == 0 {
		return nil
	}
	lns, err := fd.add(opts.Locals, opts.Dynamics)
	if err != nil {
		return err
	}
	// Like ssh, a fixed port is not announced; a port the system picked must be, or it is useless.
	for i, l := range lns {
		if (i < len(opts.Locals) && opts.Locals[i].Port == 0) || (i >= len(opts.Locals) && opts.Dynamics[i-len(opts.Locals)].Port == 0) {
			fmt.Fprintf(fd.errOut, "forwarding %s -> %s\n", l.Addr(), l.To())
		}
	}
	return nil
}

// list is what ~# shows.
func (fd *forwards) list() string {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	if fd.fw == nil {
		return "no forwarded ports (~C then -L or -D adds one)\r\n"
	}
	return formatForwards(fd.lns, fd.fw.Conns(), time.Now())
}

// commandHelp is what ~C shows for ? and for a line it does not understand.
const commandHelp = "Commands:\r\n" +
	"      -L[bind:]port:host:hostport    forward a local port (also -L port:hostport)\r\n" +
	"      -D[bind:]port                  a SOCKS5 proxy through the instance\r\n" +
	"      -KL[bind:]port                 cancel a local forward\r\n" +
	"      -KD[bind:]port                 cancel a SOCKS5 proxy\r\n" +
	"Forwards end with the session; ~# lists them.\r\n"

// command runs a line typed after ~C, as OpenSSH's command line does, and returns what to show.
// Cancelling a forward closes its listener; connections already open through it carry on.
func (fd *forwards) command(line string) string {
	opt, arg := line, ""
	if len(line) >= 2 && line[0] == '-' {
		n := 2
		if line[1] == 'K' && len(line) >= 3 {
			n = 3
		}
		opt, arg = line[:n], strings.TrimSpace(line[n:])
	}
	switch opt {
	case "?", "help", "h":
		return commandHelp
	case "-L", "-D":
		var locals []forward.LocalSpec
		var dynamics []forward.DynamicSpec
		var err error
		if opt == "-L" {
			locals, _, err = forward.ParseSpecs([]string{arg}, nil)
		} else {
			_, dynamics, err = forward.ParseSpecs(nil, []string{arg})
		}
		if err == nil {
			var lns []*forward.Listener
			if lns, err = fd.add(locals, dynamics); err == nil {
				return fmt.Sprintf("forwarding %s -> %s\r\n", lns[0].Addr(), text.Escape(lns[0].To()))
			}
		}
		return "ecsterm: " + text.OneLine(err.Error()) + "\r\n"
	case "-KL", "-KD":
		spec, err := forward.ParseDynamic(arg) // [bind:]port, the same syntax for both
		if err != nil {
			return "ecsterm: " + opt + ": " + text.OneLine(err.Error()) + "\r\n"
		}
		if l := fd.cancelListener(spec.Listen(), opt == "-KD"); l != nil {
			return fmt.Sprintf("cancelled %s -> %s\r\n", l.Addr(), text.Escape(l.To()))
		}
		kind := "local forward"
		if opt == "-KD" {
			kind = "SOCKS5 proxy"
		}
		return fmt.Sprintf("ecsterm: no %s on %s\r\n", kind, spec.Listen())
	}
	return "ecsterm: unknown command " + strconv.Quote(line) + "\r\n" + commandHelp
}

// cancelListener closes the listener of the given kind bound to addr, and returns it.
func (fd *forwards) cancelListener(addr string, socks bool) *forward.Listener {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	for i, l := range fd.lns {
		if l.SOCKS == socks && sameAddr(l.Addr().String(), addr) {
			l.Close()
			fd.lns = append(fd.lns[:i], fd.lns[i+1:]...)
			return l
		}
	}
	return nil
}

// sameAddr compares a bound address with one a user typed, which may name the host differently
// (localhost for 127.0.0.1).
func sameAddr(bound, typed string) bool {
	if bound == typed {
		return true
	}
	bh, bp, err1 := net.SplitHostPort(bound)
	th, tp, err2 := net.SplitHostPort(typed)
	if err1 != nil || err2 != nil || bp != tp {
		return false
	}
	if th == "localhost" {
		th = "127.0.0.1"
	}
	if th == "" || th == "*" {
		th = "0.0.0.0"
	}
	bip, tip := net.ParseIP(bh), net.ParseIP(th)
	if bip == nil || tip == nil {
		return bh == th
	}
	// Every interface is bound as [::] (dual stack) where a user writes *, 0.0.0.0 or nothing.
	return bip.Equal(tip) || (bip.IsUnspecified() && tip.IsUnspecified())
}

// stop closes the listeners and the connections still open, saying how many were cut, then
// ends the port sessions.
func (fd *forwards) stop() {
	open := 0
	if fw := fd.active.Load(); fw != nil {
		open = fw.Active() // counted before they are cut
	}
	fd.cancel() // without the lock: an add looking a name up ends now
	fd.mu.Lock()
	fd.mu.Unlock() // an add that was registering listeners has finished, so Wait sees them
	fd.wg.Wait()
	if fd.ports != nil {
		fd.ports.Close()
	}
	if open > 0 {
		fmt.Fprintf(fd.errOut, "ecsterm: session over; closed %d forwarded %s\n", open, plural(open, "connection"))
	}
}

// formatForwards writes the listeners and the open connections, one per line, for a raw terminal.
// A SOCKS client names its target, so every field is escaped: a name with control characters
// must not drive the user's terminal.
func formatForwards(lns []*forward.Listener, conns []forward.Conn, now time.Time) string {
	var b strings.Builder
	for _, l := range lns {
		fmt.Fprintf(&b, "forwarding %s -> %s\r\n", l.Addr(), text.Escape(l.To()))
	}
	if len(conns) == 0 {
		b.WriteString("no forwarded connections open\r\n")
		return b.String()
	}
	fmt.Fprintf(&b, "%d forwarded %s open:\r\n", len(conns), plural(len(conns), "connection"))
	for _, c := range conns {
		to := c.To
		switch {
		case c.SOCKS && to == "":
			to = "SOCKS5 (request not read yet)"
		case c.SOCKS:
			to = "SOCKS5 " + to
		}
		fmt.Fprintf(&b, "  #%d %s -> %s -> %s, %s\r\n", c.ID, text.Escape(c.From), text.Escape(c.Listen), text.Escape(to), now.Sub(c.Since).Round(time.Second))
	}
	return b.String()
}

func plural(n int, s string) string {
	if n == 1 {
		return s
	}
	return s + "s"
}
