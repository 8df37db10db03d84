package connect

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ecsterm/ecsterm/internal/attach"
	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/pkg/forward"
)

// forwards are connect's -L and -D: listeners served through port sessions on the same instance
// while the interactive session lasts.
type forwards struct {
	fw     *forward.Forwarder
	lns    []*forward.Listener
	ports  *attach.Ports
	cancel context.CancelFunc
	done   chan struct{}
	errOut *cmdutil.LockedWriter
}

// startForwards binds every listener before the session opens, so that a port in use stops
// the connect at once rather than leaving the user in a shell without the forward they asked for.
func startForwards(ctx context.Context, f *cmdutil.Factory, client *cloud.Client, opts *Options) (*forwards, error) {
	ports := attach.NewPorts(ctx, attach.PortOptions{Cloud: client, InstanceID: opts.InstanceID, Logger: f.Logger(), NoResume: opts.NoResume})
	errOut := &cmdutil.LockedWriter{W: opts.IO.ErrOut}
	fw := &forward.Forwarder{
		Open:   ports.Open,
		Logger: f.Logger(),
		// The terminal is raw while the session runs, hence \r\n, as ssh writes its own lines.
		Report: func(err error) { fmt.Fprintf(errOut, "ecsterm: %s\r\n", cmdutil.OneLine(err.Error())) },
	}
	lns, err := fw.Bind(ctx, opts.Locals, opts.Dynamics)
	if err != nil {
		ports.Close()
		return nil, err
	}
	// Like ssh, a fixed port is not announced; a port the system picked must be, or it is useless.
	for i, l := range lns {
		if (i < len(opts.Locals) && opts.Locals[i].Port == 0) || (i >= len(opts.Locals) && opts.Dynamics[i-len(opts.Locals)].Port == 0) {
			fmt.Fprintf(errOut, "forwarding %s -> %s\n", l.Addr(), l.To())
		}
	}
	fctx, cancel := context.WithCancel(ctx)
	fd := &forwards{fw: fw, lns: lns, ports: ports, cancel: cancel, done: make(chan struct{}), errOut: errOut}
	go func() {
		defer close(fd.done)
		fw.ServeAll(fctx, lns)
	}()
	return fd, nil
}

// list is what ~# shows.
func (fd *forwards) list() string { return formatForwards(fd.lns, fd.fw.Conns(), time.Now()) }

// stop closes the listeners and the connections still open, saying how many were cut, then
// ends the port sessions.
func (fd *forwards) stop() {
	open := fd.fw.Active()
	fd.cancel()
	<-fd.done
	fd.ports.Close()
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
		fmt.Fprintf(&b, "forwarding %s -> %s\r\n", l.Addr(), cmdutil.Escape(l.To()))
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
		fmt.Fprintf(&b, "  #%d %s -> %s -> %s, %s\r\n", c.ID, cmdutil.Escape(c.From), cmdutil.Escape(c.Listen), cmdutil.Escape(to), now.Sub(c.Since).Round(time.Second))
	}
	return b.String()
}

func plural(n int, s string) string {
	if n == 1 {
		return s
	}
	return s + "s"
}
