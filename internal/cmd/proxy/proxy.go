// Package proxy implements `ecsterm proxy`: stdin and stdout joined to a TCP port on an instance,
// for ssh's ProxyCommand (and so scp, rsync and anything else that rides on ssh).
package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ecsterm/ecsterm/internal/attach"
	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/complete"
	"github.com/ecsterm/ecsterm/internal/iostreams"
	"github.com/ecsterm/ecsterm/internal/target"
	"github.com/ecsterm/ecsterm/pkg/forward"
)

// API is what proxy needs of the cloud client: a listing, to resolve a target given by name,
// tag or IP. *cloud.Client is the real one.
type API interface {
	ListInstances(ctx context.Context, filter cloud.InstanceFilter) ([]cloud.InstanceInfo, error)
}

var _ API = (*cloud.Client)(nil)

// Options are proxy's inputs once arguments and settings are read: everything proxyRun needs.
type Options struct {
	IO *iostreams.IOStreams
	// API and Sessions are called only when needed: an instance ID needs no listing.
	API      func() (API, error)
	Sessions func() (cmdutil.Sessions, error)
	Logger   *slog.Logger
	Quiet    bool // -q: no notice of the service's bandwidth limit

	Spec       target.Spec // the instance as given: ID, name, tag:k=v or IP (ssh's %h)
	InstanceID string      // set when Spec is an ID, or once it is resolved
	Host       string      // reached through the instance; "" for the instance itself
	Port       int
	NoResume   bool
}

// NewCmdProxy builds the command. RunE fills Options and calls runF, or proxyRun when runF is
// nil (tests of argument parsing pass their own).
func NewCmdProxy(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	if runF == nil {
		runF = proxyRun
	}
	cmd := &cobra.Command{
		Use:   "proxy <instance> [[host:]port]",
		Short: "Join stdin and stdout to a port on an instance, for ssh's ProxyCommand",
		Long: `Join stdin and stdout to a TCP port on the instance (default 22) through one Cloud Assistant
port session, for ssh -o ProxyCommand. ssh, scp, rsync and sftp then work with no public IP
and no open port 22; the instance still needs an SSH server and your key. <instance> is an
ID, a name, tag:key=value or an IP, as for connect (ssh's %h).

host:port reaches another host through the instance (TargetServer); the service takes an IP
address, so a name is resolved on this machine. End of input ends the connection; the remote
side closing it ends ecsterm with status 0. Errors go to stderr, which ssh shows.`,
		Example: `  ssh -o ProxyCommand='ecsterm proxy %h %p' root@i-bp1eifrtpxa9tb0001
  scp -o ProxyCommand='ecsterm proxy %h %p' ./site.tgz root@i-bp1...:/tmp/
  rsync -e "ssh -o ProxyCommand='ecsterm proxy %h %p'" -a ./site/ root@i-bp1...:/srv/site/

  # ~/.ssh/config: instance IDs, and instance names (%h is resolved like connect's target)
  Host i-* web-* db-*
      ProxyCommand ecsterm proxy %h %p
      User root`,
		Args:              cobra.RangeArgs(1, 2),
		ValidArgsFunction: complete.Targets(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec, err := target.Parse(cmdutil.ExpandAlias(f, args[0]))
			if err != nil {
				return &cmdutil.FlagError{Err: err}
			}
			spec.User = "" // ssh logs in; the session does not
			opts.Spec, opts.InstanceID = spec, ""
			if spec.Kind == target.KindID {
				opts.InstanceID = spec.Value
			}
			opts.Host, opts.Port = "", 22
			if len(args) == 2 {
				host, port, err := parseTarget(args[1])
				if err != nil {
					return err
				}
				opts.Host, opts.Port = host, port
			}
			cfg, err := f.Config()
			if err != nil {
				return err
			}
			opts.Quiet = cfg.Quiet
			opts.Logger = f.Logger()
			opts.API = func() (API, error) {
				client, err := f.Cloud()
				if err != nil {
					return nil, err
				}
				return client, nil
			}
			opts.Sessions = f.Sessions
			// ssh hangs up its ProxyCommand with SIGHUP when it is done; that, Ctrl-C and SIGTERM
			// cancel cmd.Context() (the cli package does it for every command) and end the
			// session cleanly.
			return runF(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.NoResume, "no-resume", false, "no effect: port sessions always speak schema 1.01 and never reconnect (kept for scripts)")
	return cmd
}

// parseTarget reads [host:]port; an IPv6 host goes in brackets.
func parseTarget(s string) (string, int, error) {
	host, port := "", s
	if strings.Contains(s, ":") {
		h, p, err := net.SplitHostPort(s)
		if err != nil {
			return "", 0, cmdutil.FlagErrorf("%q: want [host:]port", s)
		}
		host, port = h, p
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 || strings.Trim(port, "0123456789") != "" {
		return "", 0, cmdutil.FlagErrorf("%q is not a port number (1-65535)", port)
	}
	return host, n, nil
}

func proxyRun(ctx context.Context, opts *Options) error {
	if opts.InstanceID == "" {
		api, err := opts.API()
		if err != nil {
			return err
		}
		// No picker: stdin and stdout belong to ssh, so an ambiguous name is an error listing the matches.
		inst, err := target.One(ctx, api, opts.Spec, nil)
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
	fw := &forward.Forwarder{Open: ports.Open, Logger: opts.Logger}
	if !opts.Quiet {
		// ssh has the terminal raw during an interactive session, and this process's stderr
		// is not told so (it is ssh's): end the line as ssh would.
		eol := "\n"
		if opts.IO.IsStderrTTY() {
			eol = "\r\n"
		}
		fw.OnPaced = attach.PacedNotice(opts.IO.ErrOut, "", eol)
	}
	host, err := fw.Target(ctx, opts.Host)
	if err != nil {
		return err
	}
	err = fw.Stdio(ctx, host, opts.Port, opts.IO.In, opts.IO.Out)
	if ctx.Err() != nil {
		return nil // hung up on purpose: the agent was told to close
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return fmt.Errorf("proxy %s: %w", forward.Describe(opts.Host, opts.Port), attach.ExplainEnd(err))
	}
	return nil
}
