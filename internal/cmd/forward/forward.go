// Package forward implements `ecsterm forward`: ssh's -L and -D through port sessions.
package forward

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/ecsterm/ecsterm/internal/attach"
	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/complete"
	"github.com/ecsterm/ecsterm/internal/iostreams"
	"github.com/ecsterm/ecsterm/internal/target"
	"github.com/ecsterm/ecsterm/internal/target/picker"
	"github.com/ecsterm/ecsterm/internal/text"
	"github.com/ecsterm/ecsterm/pkg/forward"
)

// API is what forward needs of the cloud client: a listing, to resolve a target given by name,
// tag or IP. *cloud.Client is the real one.
type API interface {
	ListInstances(ctx context.Context, filter cloud.InstanceFilter) ([]cloud.InstanceInfo, error)
}

var _ API = (*cloud.Client)(nil)

// Options are forward's inputs once flags, arguments and settings are read: everything
// forwardRun needs.
type Options struct {
	IO *iostreams.IOStreams
	// API and Sessions are called only when needed: an instance ID needs no listing.
	API      func() (API, error)
	Sessions func() (cmdutil.Sessions, error)
	Logger   *slog.Logger

	Spec       target.Spec // the instance as given: ID, name, tag:k=v or IP
	InstanceID string      // set when Spec is an ID, or once it is resolved
	Locals     []forward.LocalSpec
	Dynamics   []forward.DynamicSpec
	JSON       bool // -o json
	Quiet      bool // -q
	NoResume   bool
	// Resolver resolves -L host names; nil means the system's.
	Resolver forward.Resolver
}

// NewCmdForward builds the command. RunE fills Options and calls runF, or forwardRun when runF
// is nil (tests of flag parsing pass their own).
func NewCmdForward(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	if runF == nil {
		runF = forwardRun
	}
	var locals, dynamics []string
	cmd := &cobra.Command{
		Use:   "forward <instance> (-L [bind:]port:host:hostport | -L port:hostport | -D [bind:]port)...",
		Short: "Forward local ports to an instance or the hosts behind it (ssh -L, -D)",
		Long: `Forward local TCP ports through Cloud Assistant port sessions, as ssh -L and -D do. Every
accepted connection gets its own session to the instance, so many run at once, up to the
service's limit on connected sessions per instance (a connection beyond it is refused with a
line saying so; the others carry on). <instance> is an ID, a name, tag:key=value or an IP,
as for connect.

-L [bind:]port:host:hostport listens on bind:port (default 127.0.0.1) and connects each client
to host:hostport as the instance sees it: localhost is the instance itself, any other host is
reached through it (TargetServer). -L port:hostport is short for port:localhost:hostport.
The service takes an IP address for the host; a name is resolved on this machine at start.
Port 0 picks a free port, which is printed. IPv6 addresses go in brackets.

-D [bind:]port runs a SOCKS5 proxy (no authentication, CONNECT only): each connection reaches
the address it asks for through the instance. Names are resolved on this machine; one that
does not resolve is refused with "host unreachable" and a line naming it.

Each listener is announced on stderr, or as one JSON line on stdout with -o json:
  {"listen":"127.0.0.1:43127","type":"local","host":"localhost","port":80,"instance":"i-..."}
Stdout carries nothing else. Ctrl-C (or SIGTERM, SIGHUP) closes the listeners, ends the
sessions and exits 128+n (130 for Ctrl-C).

Bytes go out as soon as a client sends them when the instance's agent is later than
2.2.3.578 (it waits for its connection to the target). Older agents drop what arrives before
that connection exists, so there a client's first bytes wait for the server's first output
or 3 s, whichever comes first: no wait for servers that speak first, like SSH.`,
		Example: `  ecsterm forward web-01 -L 8080:80
  ecsterm forward i-bp1... -L 127.0.0.1:5432:10.0.0.7:5432 -L 6379:10.0.0.8:6379
  ecsterm forward i-bp1... -D 1080     # then: curl --socks5 127.0.0.1:1080 http://10.0.0.7/
  ecsterm forward -o json i-bp1... -L 0:80 > fwd.jsonl &   # scripts read the port from fwd.jsonl`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: complete.Targets(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec, err := target.Parse(cmdutil.ExpandAlias(f, args[0]))
			if err != nil {
				return &cmdutil.FlagError{Err: err}
			}
			spec.User = "" // port sessions log no one in: a user means nothing here
			opts.Spec, opts.InstanceID = spec, ""
			if spec.Kind == target.KindID {
				opts.InstanceID = spec.Value
			}
			if len(locals) == 0 && len(dynamics) == 0 {
				return cmdutil.FlagErrorf("nothing to forward: give -L or -D")
			}
			if opts.Locals, opts.Dynamics, err = forward.ParseSpecs(locals, dynamics); err != nil {
				return &cmdutil.FlagError{Err: err}
			}
			cfg, err := f.Config()
			if err != nil {
				return err
			}
			opts.JSON, opts.Quiet = cfg.Output == "json", cfg.Quiet
			opts.Logger = f.Logger()
			opts.API = func() (API, error) {
				client, err := f.Cloud()
				if err != nil {
					return nil, err
				}
				return client, nil
			}
			opts.Sessions = f.Sessions
			// Ctrl-C, SIGTERM and SIGHUP cancel cmd.Context() (the cli package does it for every
			// command); forwardRun then closes everything and returns nil. A second signal
			// during that shutdown exits at once.
			return runF(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&locals, "local", "L", nil, "[bind:]port:host:hostport or port:hostport: forward a local port (repeatable)")
	fl.StringArrayVarP(&dynamics, "dynamic", "D", nil, "[bind:]port: a SOCKS5 proxy through the instance (repeatable)")
	fl.BoolVar(&opts.NoResume, "no-resume", false, "no effect: port sessions always speak schema 1.01 and never reconnect (kept for scripts)")
	return cmd
}

// announcement is one listener, as -o json prints it.
type announcement struct {
	Listen   string `json:"listen"`
	Type     string `json:"type"` // local or socks5
	Host     string `json:"host,omitempty"`
	Target   string `json:"target_ip,omitempty"` // the IP a host name resolved to
	Port     int    `json:"port,omitempty"`
	Instance string `json:"instance"`
}

// forwardRun forwards until ctx ends, then closes everything and returns nil.
func forwardRun(ctx context.Context, opts *Options) error {
	ios := opts.IO
	errOut := &cmdutil.LockedWriter{W: ios.ErrOut}
	if opts.InstanceID == "" {
		api, err := opts.API()
		if err != nil {
			return err
		}
		inst, err := target.One(ctx, api, opts.Spec, picker.For(ios))
		if err != nil {
			return err
		}
		opts.InstanceID = inst.ID
	}
	sessions, err := opts.Sessions()
	if err != nil {
		return err
	}
	ports := sessions.Ports(ctx, attach.PortOptions{InstanceID: opts.InstanceID})
	defer ports.Close()
	inst, err := ports.Ready(ctx)
	if err != nil {
		return err
	}
	fw := &forward.Forwarder{
		Open:     ports.Open,
		Resolver: opts.Resolver,
		Logger:   opts.Logger,
		Report:   func(err error) { fmt.Fprintf(errOut, "ecsterm: %s\n", text.OneLine(attach.ExplainEnd(err).Error())) },
	}
	if !opts.Quiet {
		fw.OnPaced = attach.PacedNotice(errOut, "", "\n")
		fw.Notice = func(s string) { fmt.Fprintf(errOut, "ecsterm: %s\n", s) }
	}
	lns, err := fw.Bind(ctx, opts.Locals, opts.Dynamics)
	if err != nil {
		return err
	}
	enc := cmdutil.NewJSONEncoder(ios.Out)
	for _, l := range lns {
		a := announcement{Listen: l.Addr().String(), Type: "local", Host: l.Shown, Port: l.Port, Target: l.Target, Instance: inst.ID}
		if l.SOCKS {
			a.Type, a.Host, a.Port = "socks5", "", 0
		}
		switch {
		case opts.JSON:
			if err := enc.Encode(a); err != nil {
				forward.CloseAll(lns)
				return err
			}
		case opts.Quiet:
		case l.SOCKS:
			fmt.Fprintf(errOut, "SOCKS5 proxy on %s via %s\n", a.Listen, text.Escape(inst.ID))
		default:
			fmt.Fprintf(errOut, "forwarding %s -> %s via %s\n", a.Listen, text.Escape(l.To()), text.Escape(inst.ID))
		}
	}
	fw.ServeAll(ctx, lns) // returns once ctx ends and the connections are closed
	return nil
}
