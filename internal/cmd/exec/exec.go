// Package exec implements `ecsterm exec`: one command on one or many instances, with the remote
// exit status as ecsterm's own and byte-exact pipes.
package exec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/ecsterm/ecsterm/internal/attach"
	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/complete"
	"github.com/ecsterm/ecsterm/internal/iostreams"
	"github.com/ecsterm/ecsterm/internal/persist"
	"github.com/ecsterm/ecsterm/internal/target"
	"github.com/ecsterm/ecsterm/internal/text"
	"github.com/ecsterm/ecsterm/pkg/term"
)

// API is what exec needs of the cloud client: listing instances to resolve its targets, and
// RunCommand for --via run-command. *cloud.Client is the real one.
type API interface {
	target.Lister
	// RunCommandAs runs script on instanceIDs through Cloud Assistant's RunCommand and waits
	// for the results (runcommand.go).
	RunCommandAs(ctx context.Context, user string, instanceIDs []string, script string, timeout time.Duration, progress func(done, total int)) ([]cloud.RunResult, error)
}

var _ API = (*cloud.Client)(nil)

// Options are everything execRun needs: flags and arguments, the settings it uses from the
// configuration, the API that resolves targets, and the seam that reaches instances.
type Options struct {
	IO       *iostreams.IOStreams
	API      API
	Sessions cmdutil.Sessions

	// From the configuration.
	JSON      bool   // -o json
	Quiet     bool   // -q
	RecordDir string // record_dir, ~ expanded: where exec -t records its sessions ("" records none)

	Specs   []target.Spec // as given
	Targets []string      // instance IDs, once resolved
	User    string
	Command string

	TTY, NoTTY bool
	NoStdin    bool
	NoPrefix   bool
	Via        string
	Timeout    time.Duration
	Parallel   int
	EscapeChar string
	NoResume   bool
}

// NewCmdExec builds the command. runF replaces execRun in tests of flag parsing.
func NewCmdExec(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	if runF == nil {
		runF = execRun
	}
	var extra []string
	var persistFlag string
	cmd := &cobra.Command{
		Use:   "exec [user@]<target>[,<target>...] [flags] [--] <command> [args...]",
		Short: "Run a command on instances, with its exit status and byte-exact pipes",
		Long: `Run one command on an instance, as 'ssh host command' does: its output streams back as it is
produced, stdin and stdout are byte-exact when they are not a terminal, stdin's end of file
reaches the command, and ecsterm exits with the command's exit status.

The command and its arguments are joined with spaces and run by the remote user's shell
(-c), as ssh does, so quote what the remote shell should see. It may be of any length.
With -t (the default when stdin and stdout are terminals and there is one target) the command
gets a terminal; without one its stderr arrives separately, after its stdout, once it ends.

A target is an instance ID, a name (with * wildcards), tag:key=value, or a private or public
IP; a name or tag that matches several instances runs on all of them. Several instances
(comma-separated targets, or --target repeated) run in parallel; each output line
is prefixed with the instance unless --no-prefix, and they get no stdin. --via run-command
uses Cloud Assistant's RunCommand instead of sessions: better for fleets, but output is
buffered, cut at 24 KB, and stdin is not supported.

Exit status: the remote command's; with several instances the highest of them; 255 when
ecsterm could not run the command on an instance (the others still run).`,
		Example: `  ecsterm exec i-bp1... -- systemctl restart nginx && echo done
  tar c ./site | ecsterm exec i-bp1... -- tar x -C /srv
  ecsterm exec i-bp1... -- cat /var/log/app.log | grep ERROR
  ecsterm exec i-aaa,i-bbb,i-ccc -- uptime
  ecsterm exec 'web-*' -- systemctl is-active nginx
  ecsterm exec tag:role=db -- df -h /data
  ecsterm exec --via run-command --target i-aaa --target i-bbb -- 'df -h /'
  ecsterm exec -o json i-aaa,i-bbb -- hostname`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: complete.Targets(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			// A configuration that fails to load expands no alias; its error comes after the
			// usage errors.
			cfg, cfgErr := f.Config()
			var aliases map[string]string
			if cfgErr == nil {
				aliases = cfg.Aliases()
			}
			// Flags stop at the first argument (the target), so a "--" after it is still here.
			targets, command := append(splitTargets(args[0]), extra...), args[1:]
			if len(extra) > 0 {
				// With --target, every positional argument is the command.
				targets, command = extra, args
			}
			if len(command) > 0 && command[0] == "--" {
				command = command[1:]
			}
			if len(command) == 0 {
				return cmdutil.FlagErrorf("no command given: ecsterm exec <instance> -- <command>")
			}
			opts.Command = strings.Join(command, " ")
			for _, t := range targets {
				spec, err := target.Parse(target.ExpandAlias(t, aliases))
				if err != nil {
					return &cmdutil.FlagError{Err: err}
				}
				if spec.User != "" {
					if opts.User != "" && opts.User != spec.User {
						return cmdutil.FlagErrorf("user given twice: %q and %q", opts.User, spec.User)
					}
					opts.User = spec.User
				}
				opts.Specs = append(opts.Specs, spec)
			}
			if len(opts.Specs) == 0 {
				return cmdutil.FlagErrorf("no instance given")
			}
			if opts.TTY && opts.NoTTY {
				return cmdutil.FlagErrorf("-t and -T contradict each other")
			}
			if opts.Via != "session" && opts.Via != "run-command" {
				return cmdutil.FlagErrorf("--via must be session or run-command, not %q", opts.Via)
			}
			if opts.TTY && (len(opts.Specs) > 1 || opts.Via == "run-command") {
				return cmdutil.FlagErrorf("-t needs exactly one instance and --via session")
			}
			if _, _, err := term.ParseEscapeChar(opts.EscapeChar); err != nil {
				return cmdutil.FlagErrorf("-e: %v", err)
			}
			if opts.Parallel < 1 {
				return cmdutil.FlagErrorf("--parallel must be at least 1")
			}
			if cfgErr != nil {
				return cfgErr
			}
			opts.JSON, opts.Quiet = cfg.Output == "json", cfg.Quiet
			if cfg.RecordDir != "" {
				opts.RecordDir = attach.ExpandHome(cfg.RecordDir)
			}
			client, err := f.Cloud()
			if err != nil {
				return err
			}
			if opts.Sessions, err = f.Sessions(); err != nil {
				return err
			}
			idle, err := persist.Idle(persistFlag, cfg)
			if err != nil {
				return &cmdutil.FlagError{Err: err}
			}
			if idle > 0 {
				opts.Sessions = persist.Wrap(opts.Sessions, persist.SettingsFrom(cfg, idle, f.Logger()))
			}
			opts.API = client
			return runF(cmd.Context(), opts)
		},
	}
	cmd.Flags().SetInterspersed(false) // flags after the target belong to the remote command
	fl := cmd.Flags()
	fl.StringVar(&persistFlag, "persist", "", persist.FlagUsage)
	fl.StringArrayVar(&extra, "target", nil, "an instance to run on (repeatable)")
	_ = cmd.RegisterFlagCompletionFunc("target", complete.TargetFlag(f))
	fl.StringVarP(&opts.User, "user", "l", "", "run as this user on the instance")
	fl.BoolVarP(&opts.TTY, "tty", "t", false, "give the command a terminal (default when stdin and stdout are terminals)")
	fl.BoolVarP(&opts.NoTTY, "no-tty", "T", false, "never give the command a terminal")
	fl.BoolVarP(&opts.NoStdin, "no-stdin", "n", false, "send no input (end of file at once), like ssh -n")
	fl.BoolVar(&opts.NoPrefix, "no-prefix", false, "with several instances, do not prefix output lines")
	fl.StringVar(&opts.Via, "via", "session", "session (streamed, stdin, exit status) or run-command (Cloud Assistant RunCommand, for fleets)")
	fl.DurationVar(&opts.Timeout, "timeout", time.Minute, "with --via run-command: how long the command may run")
	fl.IntVar(&opts.Parallel, "parallel", 16, "how many instances run at once")
	fl.StringVarP(&opts.EscapeChar, "escape", "e", "~", "with -t: escape character for ~. and ~?, or none")
	fl.BoolVar(&opts.NoResume, "no-resume", false, "speak session schema 1.01 only: a dropped connection ends the session instead of reconnecting to it")
	return cmd
}

func splitTargets(s string) []string {
	var out []string
	for _, t := range strings.Split(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// resolve turns the targets into instance IDs, each once. exec takes many instances, so a name
// or tag that matches several runs on all of them; one that matches none is an error.
func resolve(ctx context.Context, l target.Lister, specs []target.Spec) ([]string, error) {
	seen := map[string]bool{}
	var ids []string
	for _, spec := range specs {
		matches, err := target.Resolve(ctx, l, spec)
		if err != nil {
			return nil, err
		}
		for _, m := range matches {
			if !seen[m.ID] {
				seen[m.ID] = true
				ids = append(ids, m.ID)
			}
		}
	}
	return ids, nil
}

// result is one instance's outcome, also the -o json record.
type result struct {
	InstanceID string  `json:"instance_id"`
	ExitStatus *int    `json:"exit_status"` // null when the command could not run
	DurationMS int64   `json:"duration_ms"`
	Stdout     string  `json:"stdout"`
	Stderr     string  `json:"stderr,omitempty"`
	Dropped    int     `json:"dropped_bytes,omitempty"` // run-command: output the service cut
	Status     string  `json:"invocation_status,omitempty"`
	Error      *string `json:"error"`
}

// execRun runs the command on the targets: on one, with its streams and exit status; on
// several, in parallel (fanOut); or through RunCommand (viaRunCommand).
func execRun(ctx context.Context, opts *Options) error {
	var err error
	if opts.Targets, err = resolve(ctx, opts.API, opts.Specs); err != nil {
		return err
	}
	if opts.TTY && len(opts.Targets) > 1 {
		return cmdutil.FlagErrorf("-t needs exactly one instance; the targets match %d", len(opts.Targets))
	}
	if opts.Via == "run-command" {
		return viaRunCommand(ctx, opts)
	}
	ios := opts.IO
	if len(opts.Targets) == 1 && !opts.JSON {
		tty := opts.TTY || (!opts.NoTTY && ios.IsStdinTTY() && ios.IsStdoutTTY())
		var stdin io.Reader = ios.In
		if opts.NoStdin {
			stdin = nil
		}
		esc, escOn, _ := term.ParseEscapeChar(opts.EscapeChar)
		var rec *attach.RecordFile // record_dir records terminal sessions (attach/recordfile.go)
		if tty {
			if rec, err = attach.NewRecordFile("", opts.RecordDir, false, false, "exec -t"); err != nil {
				return err
			}
			defer rec.Close()
		}
		status, err := opts.Sessions.Exec(ctx, attach.ExecOptions{
			Target:    attach.Target{InstanceID: opts.Targets[0], Username: opts.User},
			Streams:   attach.Streams{Stdin: stdin, Stdout: ios.Out, Stderr: ios.ErrOut},
			Terminal:  attach.Terminal{In: ios.InFile, Out: ios.OutFile, SetRaw: ios.SetRaw, Escape: esc, NoEscape: !escOn},
			Reporting: attach.Reporting{StatusOut: ios.ErrOut, OnPaced: pacedNotice(ios, opts.Quiet)},
			Command:   opts.Command,
			TTY:       tty,
			NoResume:  opts.NoResume,
			Recording: rec.Recording(),
		})
		if err != nil {
			return err
		}
		return exitWith(status)
	}
	return fanOut(ctx, opts)
}

// pacedNotice is what exec says when the service's bandwidth limit paces its stdin: on stderr,
// unless -q.
func pacedNotice(ios *iostreams.IOStreams, quiet bool) func(uint64) {
	if quiet {
		return nil
	}
	return attach.PacedNotice(ios.ErrOut, "", "\n")
}

// statusOut is where a fanned-out session's reconnect status goes: beside its stderr, except with
// -o json, where stderr is part of the record.
func statusOut(json bool, stderr io.Writer) io.Writer {
	if json {
		return nil
	}
	return stderr
}

func exitWith(status int) error {
	if status == 0 {
		return nil
	}
	return &cmdutil.ExitError{Code: status}
}

// fanOut runs the command on every target in parallel, without stdin.
func fanOut(ctx context.Context, opts *Options) error {
	ios := opts.IO
	results := make([]result, len(opts.Targets))
	out := &cmdutil.LockedWriter{W: ios.Out}
	errOut := &cmdutil.LockedWriter{W: ios.ErrOut}
	sem := make(chan struct{}, opts.Parallel)
	var wg sync.WaitGroup
	for i, id := range opts.Targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done(): // interrupted while waiting for a turn: start nothing more
				msg := context.Cause(ctx).Error()
				results[i] = result{InstanceID: id, Error: &msg}
				return
			}
			defer func() { <-sem }()
			start := time.Now()
			var stdout, stderr io.Writer
			var bufOut, bufErr bytes.Buffer
			var po, pe *prefixWriter
			switch {
			case opts.JSON:
				stdout, stderr = &bufOut, &bufErr
			case opts.NoPrefix:
				stdout, stderr = out, errOut
			default:
				po, pe = newPrefixWriter(out, id), newPrefixWriter(errOut, id)
				// The command's stderr and the reconnect status lines reach pe from different
				// goroutines; its line buffer needs a lock of its own.
				stdout, stderr = po, &cmdutil.LockedWriter{W: pe}
			}
			status, err := opts.Sessions.Exec(ctx, attach.ExecOptions{
				Target:    attach.Target{InstanceID: id, Username: opts.User},
				Streams:   attach.Streams{Stdout: stdout, Stderr: stderr},
				Reporting: attach.Reporting{StatusOut: statusOut(opts.JSON, stderr)},
				Command:   opts.Command,
				NoResume:  opts.NoResume,
			})
			if po != nil {
				po.Flush()
				pe.Flush()
			}
			r := result{InstanceID: id, DurationMS: time.Since(start).Milliseconds(), Stdout: bufOut.String(), Stderr: bufErr.String()}
			if err != nil {
				msg := err.Error()
				r.Error = &msg
				// Interrupted: Main says so by the exit status; a line per instance that only
				// reports the cancellation would hide the lines that say something.
				if !opts.JSON && !(ctx.Err() != nil && errors.Is(err, context.Canceled)) {
					fmt.Fprintf(errOut, "ecsterm: %s\n", text.OneLine(msg))
				}
			} else {
				r.ExitStatus = &status
			}
			results[i] = r
		}()
	}
	wg.Wait()
	return finish(opts, ios, results)
}

// finish prints JSON records if asked and works out the exit status: the highest remote
// status, or 255 if any instance could not run the command.
func finish(opts *Options, ios *iostreams.IOStreams, results []result) error {
	worst := 0
	enc := cmdutil.NewJSONEncoder(ios.Out) // records hold IDs, output and errors from the far side
	for _, r := range results {
		if opts.JSON {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		switch {
		case r.ExitStatus == nil:
			worst = 255
		case *r.ExitStatus > worst:
			worst = *r.ExitStatus
		}
	}
	return exitWith(worst)
}
