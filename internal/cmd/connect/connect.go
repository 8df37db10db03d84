// Package connect implements `ecsterm connect`: an interactive shell on an instance.
package connect

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

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
	"github.com/ecsterm/ecsterm/pkg/term"
)

// API is what connect needs of the cloud client: a listing, to resolve a target given by name,
// tag or IP, and the preflight and install call of --install-agent. *cloud.Client is the real one.
type API interface {
	ListInstances(ctx context.Context, filter cloud.InstanceFilter) ([]cloud.InstanceInfo, error)
	Preflight(ctx context.Context, instanceID string) (*cloud.Instance, error)
	InstallAgent(ctx context.Context, instanceID string) error
}

var _ API = (*cloud.Client)(nil)

// Options are connect's inputs once flags, arguments and settings are read: everything
// connectRun needs.
type Options struct {
	IO *iostreams.IOStreams
	// API and Sessions are called only once the local checks pass: a recording that cannot be
	// written costs no credentials and no API call.
	API      func() (API, error)
	Sessions func() (cmdutil.Sessions, error)
	Logger   *slog.Logger
	Quiet    bool // -q: no notices from the forwards

	Target      string
	Spec        target.Spec
	InstanceID  string // set once the target is resolved
	User        string
	CommandLine string
	EscapeChar  string
	IdleTimeout time.Duration
	NoResume    bool
	// Locals and Dynamics are -L and -D forwards that live as long as the session.
	Locals   []forward.LocalSpec
	Dynamics []forward.DynamicSpec

	InstallAgent bool // install a missing Cloud Assistant agent (after a confirmation or --yes)
	Yes          bool

	// Record is --record's file; RecordDir is the config's record_dir, used without --record.
	Record      string
	RecordDir   string
	RecordInput bool
	Force       bool
}

// NewCmdConnect builds the command. RunE fills Options and calls runF, or connectRun when runF
// is nil (tests of flag parsing pass their own).
func NewCmdConnect(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	if runF == nil {
		runF = connectRun
	}
	var locals, dynamics []string
	cmd := &cobra.Command{
		Use:   "connect [user@]<instance>",
		Short: "Open an interactive shell on an instance",
		Long: `Open an interactive shell on an ECS instance through a Cloud Assistant session, the way
ssh opens one on a host. The local terminal is in raw mode for the session, follows window
resizes, and is restored exactly when the session ends.

The instance must be Running, with a Cloud Assistant agent that is online and supports
session management (Linux later than 2.2.3.256, Windows later than 2.1.3.256).

Escapes, typed at the start of a line as in OpenSSH: ~. ends the session, ~? lists the
escapes, ~# lists forwarded ports and connections, ~C opens a command line that adds or
cancels forwards (-L, -D, -KL, -KD), ~^Z suspends ecsterm, ~~ sends a ~. -e changes the
escape character or turns escapes off.

-L and -D forward local ports for as long as the shell lasts, as with ssh and as
'ecsterm forward' does (see its help for the syntax). Each connection is its own port
session. A port that cannot be bound stops the connect before the session opens. When
the shell ends, open connections are closed.

--record FILE writes the session as an asciicast v2 file, which 'asciinema play',
asciinema-player and agg read: the output, and the window's resizes. Keystrokes are
recorded only with --record-input, since passwords are typed into shells. The file is
written as the session goes, so one cut short by a crash is still playable; it is created
mode 0600 and an existing file is not overwritten without --force. The config key
record_dir records every session into that directory instead, one file per session named
by time, instance and session ID. A recording that cannot be written stops the session
before it starts.`,
		Example: `  ecsterm connect i-bp1eifrtpxa9tb0001
  ecsterm connect web-01                       # by name; web-* picks from the matches on a terminal
  ecsterm connect admin@tag:role=bastion       # by tag, as user admin
  ecsterm connect 10.0.0.11                    # by private or public IP
  ecsterm connect i-bp1eifrtpxa9tb0001 --command 'top -d 5'
  ecsterm connect web-01 -L 8080:80 -D 1080     # a shell, plus forwards while it lasts
  ecsterm connect web-01 --record web-01.cast   # then: asciinema play web-01.cast
  ecsterm config set record_dir ~/ecsterm-casts # record every session`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: complete.Targets(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Target = cmdutil.ExpandAlias(f, args[0])
			if strings.HasPrefix(opts.Target, "@") {
				return cmdutil.FlagErrorf("no user before @ in %q", opts.Target)
			}
			spec, err := target.Parse(opts.Target)
			if err != nil {
				return &cmdutil.FlagError{Err: err}
			}
			if spec.User != "" {
				if opts.User != "" && opts.User != spec.User {
					return cmdutil.FlagErrorf("user given twice: %q in the target and %q with --user", spec.User, opts.User)
				}
				opts.User = spec.User
			}
			opts.Spec = spec
			if spec.Kind == target.KindID {
				opts.InstanceID = spec.Value
			}
			if n := len([]rune(opts.CommandLine)); n > cloud.MaxCommandLine {
				return cmdutil.FlagErrorf("--command is %d characters; the service takes at most %d", n, cloud.MaxCommandLine)
			}
			if _, _, err := term.ParseEscapeChar(opts.EscapeChar); err != nil {
				return cmdutil.FlagErrorf("-e: %v", err)
			}
			if opts.Locals, opts.Dynamics, err = forward.ParseSpecs(locals, dynamics); err != nil {
				return &cmdutil.FlagError{Err: err}
			}
			if opts.Record == "" && (opts.RecordInput || opts.Force) {
				return cmdutil.FlagErrorf("--record-input and --force go with --record")
			}
			// A configuration that does not load is reported by the API, after the local checks.
			if cfg, err := f.Config(); err == nil {
				opts.RecordDir = attach.ExpandHome(cfg.RecordDir)
				opts.Quiet = cfg.Quiet
			}
			opts.Logger = f.Logger()
			opts.API = func() (API, error) {
				client, err := f.Cloud()
				if err != nil {
					return nil, err
				}
				return client, nil
			}
			opts.Sessions = f.Sessions
			return runF(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.User, "user", "l", "", "log in as this user on the instance (default: the agent's, ecs-assist-user on Linux)")
	cmd.Flags().StringVar(&opts.CommandLine, "command", "", "run this program instead of the login shell (at most 512 characters)")
	cmd.Flags().DurationVar(&opts.IdleTimeout, "idle-timeout", 0, "end the session after this long without input or output (default: never; keep-alives hold it open)")
	cmd.Flags().StringVarP(&opts.EscapeChar, "escape", "e", "~", "escape character for ~. (end), ~? (help)...: one character, ^X, or none")
	cmd.Flags().BoolVar(&opts.InstallAgent, "install-agent", false, "if the instance has no Cloud Assistant agent, install it (InstallCloudAssistant; the instance must then be rebooted)")
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "with --install-agent: do not ask for confirmation")
	cmd.Flags().StringArrayVarP(&locals, "local", "L", nil, "[bind:]port:host:hostport or port:hostport: forward a local port while the session lasts (repeatable)")
	cmd.Flags().StringArrayVarP(&dynamics, "dynamic", "D", nil, "[bind:]port: a SOCKS5 proxy through the instance while the session lasts (repeatable)")
	cmd.Flags().BoolVar(&opts.NoResume, "no-resume", false, "speak session schema 1.01 only: a dropped connection ends the session instead of reconnecting to it")
	cmd.Flags().StringVar(&opts.Record, "record", "", "record the session into this new asciicast v2 file (output and resizes)")
	cmd.Flags().BoolVar(&opts.RecordInput, "record-input", false, "with --record: record keystrokes too (passwords typed into the shell among them)")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "with --record: overwrite the file if it exists")
	return cmd
}

func connectRun(ctx context.Context, opts *Options) error {
	// The file first: a path that cannot be written costs no API call and no session.
	rec, err := attach.NewRecordFile(opts.Record, opts.RecordDir, opts.Force, opts.RecordInput, "connect")
	if err != nil {
		return err
	}
	defer rec.Close()
	api, err := opts.API()
	if err != nil {
		return err
	}
	ios := opts.IO
	inst, err := target.One(ctx, api, opts.Spec, picker.For(ios))
	if err != nil {
		return err
	}
	opts.InstanceID = inst.ID
	if opts.InstallAgent {
		if done, err := installAgent(ctx, api, opts); done || err != nil {
			return err
		}
	}
	// One lock for every line on stderr: failed connections report from their own goroutines,
	// and ~#, ~C or a status line must not interleave with them.
	stderr := &cmdutil.LockedWriter{W: ios.ErrOut}
	sessions, err := opts.Sessions()
	if err != nil {
		return err
	}
	fwd := newForwards(ctx, sessions, opts, stderr)
	defer fwd.stop()
	if err := fwd.start(opts); err != nil {
		return err
	}
	esc, escOn, _ := term.ParseEscapeChar(opts.EscapeChar)
	err = sessions.Shell(ctx, attach.ShellOptions{
		Target:       attach.Target{InstanceID: opts.InstanceID, Username: opts.User},
		Streams:      attach.Streams{Stdin: ios.In, Stdout: ios.Out, Stderr: stderr},
		Terminal:     attach.Terminal{In: ios.InFile, Out: ios.OutFile, SetRaw: ios.SetRaw, Escape: esc, NoEscape: !escOn},
		Reporting:    attach.Reporting{StatusOut: stderr},
		CommandLine:  opts.CommandLine,
		IdleTimeout:  opts.IdleTimeout,
		NoResume:     opts.NoResume,
		ListForwards: fwd.list,
		Command:      fwd.command,
		Recording:    rec.Recording(),
	})
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	return nil
}

// installAgent installs the Cloud Assistant agent when preflight finds none, after the user
// confirms on a terminal (or with --yes). done is true when it acted: the session cannot open
// until the instance has rebooted, which ecsterm does not do on its own.
func installAgent(ctx context.Context, api API, opts *Options) (done bool, err error) {
	in, _ := api.Preflight(ctx, opts.InstanceID)
	if in == nil || !in.AgentMissing() {
		return false, nil // nothing to install; the session's own preflight reports the rest
	}
	ios := opts.IO
	if !opts.Yes {
		if !ios.IsStdinTTY() || !ios.IsStderrTTY() {
			return true, cmdutil.FlagErrorf("%s has no Cloud Assistant agent: --install-agent needs --yes when there is no terminal to confirm on", in.ID)
		}
		fmt.Fprintf(ios.ErrOut, "Install the Cloud Assistant agent on %s (%s)? The instance must be rebooted before it works. [y/N] ", text.Escape(in.ID), text.Escape(in.Name))
		answer, _ := bufio.NewReader(ios.In).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			return true, fmt.Errorf("%s: not installing the agent; no session without it", in.ID)
		}
	}
	if err := api.InstallAgent(ctx, in.ID); err != nil {
		return true, err
	}
	return true, fmt.Errorf("%s: Cloud Assistant agent installed; reboot the instance (aliyun ecs RebootInstance --InstanceId %s) and connect again", in.ID, in.ID)
}
