// Package persist implements `ecsterm persist`: what --persist keeps warm (ls), ending it
// (stop), and the hidden `serve` that is the background holder itself (internal/persist).
package persist

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/iostreams"
	"github.com/ecsterm/ecsterm/internal/persist"
	"github.com/ecsterm/ecsterm/internal/target"
	"github.com/ecsterm/ecsterm/internal/text"
)

// NewCmdPersist builds `ecsterm persist` and its subcommands.
func NewCmdPersist(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "persist <command>",
		Short: "Show or stop the warm sessions that exec --persist and cp --persist keep",
		Long: `exec and cp with --persist DURATION (or ECSTERM_PERSIST, or the config key persist) leave a
background ecsterm for the instance and user, as ssh's ControlPersist does: it holds warm
sessions, so that the next exec or cp on that instance starts in milliseconds instead of a
second or more. It ends after DURATION without a command, when its credentials stop working,
or on 'ecsterm persist stop', and ends every session it opened (EndTerminalSession).

Warm sessions stay open between commands, so they count against the service's connected
sessions per instance and per region while they are held.`,
		Example: `  ecsterm exec --persist 10m web-01 -- uptime   # the first starts the holder
  ecsterm exec --persist 10m web-01 -- df -h    # later ones reuse its session
  ecsterm persist ls
  ecsterm persist stop web-01
  ecsterm persist stop                          # every holder`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(NewCmdLs(f, nil), NewCmdStop(f, nil), NewCmdServe(f, nil))
	return cmd
}

// LsOptions are `persist ls`'s inputs.
type LsOptions struct {
	IO   *iostreams.IOStreams
	Dir  string
	JSON bool
}

// NewCmdLs builds `ecsterm persist ls`. runF replaces lsRun in tests of flag parsing.
func NewCmdLs(f *cmdutil.Factory, runF func(context.Context, *LsOptions) error) *cobra.Command {
	opts := &LsOptions{IO: f.IOStreams}
	if runF == nil {
		runF = lsRun
	}
	return &cobra.Command{
		Use:   "ls",
		Short: "List the instances with warm sessions",
		Long: `List the background holders that --persist started for this user: the instance and user,
how many warm sessions each holds and how many run a command now, how long it has been idle,
its age, and how long it stays without another command. -o json gives the same as a JSON array.`,
		Example: `  ecsterm persist ls
  ecsterm persist ls -o json | jq -r '.[].instance_id'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := f.Config()
			if err != nil {
				return err
			}
			opts.JSON = cfg.Output == "json"
			if opts.Dir, err = persist.Dir(); err != nil {
				return err
			}
			return runF(cmd.Context(), opts)
		},
	}
}

// record is one holder in -o json.
type record struct {
	InstanceID string `json:"instance_id"`
	User       string `json:"user"`
	Region     string `json:"region"`
	Profile    string `json:"profile"`
	Sessions   int    `json:"sessions"`
	Running    int    `json:"running"`
	IdleSec    int64  `json:"idle_seconds"`
	AgeSec     int64  `json:"age_seconds"`
	ExitsInSec int64  `json:"exits_in_seconds"`
	PID        int    `json:"pid"`
}

func lsRun(_ context.Context, opts *LsOptions) error {
	infos, err := persist.List(opts.Dir)
	if err != nil {
		return err
	}
	ios := opts.IO
	recs := make([]record, 0, len(infos))
	for _, in := range infos {
		recs = append(recs, record{InstanceID: in.InstanceID, User: in.User, Region: in.Region, Profile: in.Profile,
			Sessions: in.Sessions, Running: in.Running, IdleSec: in.IdleMS / 1000, AgeSec: in.AgeMS / 1000,
			ExitsInSec: in.ExitsInMS / 1000, PID: in.PID})
	}
	switch {
	case opts.JSON:
		return writeJSON(ios.Out, recs)
	case len(recs) == 0:
		if ios.IsStdoutTTY() || ios.IsStderrTTY() {
			fmt.Fprintln(ios.ErrOut, "nothing is warm: exec and cp keep sessions with --persist DURATION")
		}
		return nil
	}
	rows := make([][]string, 0, len(recs))
	for _, r := range recs {
		user := r.User
		if user == "" {
			user = "-"
		}
		rows = append(rows, []string{text.Escape(r.InstanceID), text.Escape(user), strconv.Itoa(r.Sessions), strconv.Itoa(r.Running),
			seconds(r.IdleSec), seconds(r.AgeSec), seconds(r.ExitsInSec)})
	}
	if ios.IsStdoutTTY() {
		return cmdutil.WriteTable(ios.Out, []string{"INSTANCE", "USER", "SESSIONS", "RUNNING", "IDLE", "AGE", "EXITS IN"}, rows)
	}
	return cmdutil.WriteTSV(ios.Out, rows)
}

func seconds(s int64) string { return (time.Duration(s) * time.Second).String() }

func writeJSON(w io.Writer, v any) error {
	enc := cmdutil.NewJSONEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// StopOptions are `persist stop`'s inputs.
type StopOptions struct {
	IO  *iostreams.IOStreams
	Dir string
	// Target, if set, stops only the holders for the instances it names; User, if set, only
	// that user's.
	Target *target.Spec
	// Resolve turns a target that is not an instance ID into IDs (target.Resolve).
	Resolve func(ctx context.Context, spec target.Spec) ([]string, error)
	Quiet   bool
}

// NewCmdStop builds `ecsterm persist stop`. runF replaces stopRun in tests of flag parsing.
func NewCmdStop(f *cmdutil.Factory, runF func(context.Context, *StopOptions) error) *cobra.Command {
	opts := &StopOptions{IO: f.IOStreams}
	if runF == nil {
		runF = stopRun
	}
	return &cobra.Command{
		Use:   "stop [[user@]<target>]",
		Short: "End warm sessions: of one instance, or all",
		Long: `Stop the background holders that --persist started, for the instance given (an ID, a name, a
tag or an IP, as exec takes them; user@ for one user's only) or, without one, all of them. Each
ends every session it opened (EndTerminalSession) before this command returns; a command
running on one of them at the time ends with an error.`,
		Example: `  ecsterm persist stop
  ecsterm persist stop i-bp1eifrtpxa9tb0001
  ecsterm persist stop admin@web-01`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				spec, err := target.Parse(cmdutil.ExpandAlias(f, args[0]))
				if err != nil {
					return &cmdutil.FlagError{Err: err}
				}
				opts.Target = &spec
			}
			cfg, err := f.Config()
			if err != nil {
				return err
			}
			opts.Quiet = cfg.Quiet
			opts.Resolve = func(ctx context.Context, spec target.Spec) ([]string, error) {
				client, err := f.Cloud()
				if err != nil {
					return nil, err
				}
				insts, err := target.Resolve(ctx, client, spec)
				ids := make([]string, 0, len(insts))
				for _, in := range insts {
					ids = append(ids, in.ID)
				}
				return ids, err
			}
			if opts.Dir, err = persist.Dir(); err != nil {
				return err
			}
			return runF(cmd.Context(), opts)
		},
	}
}

func stopRun(ctx context.Context, opts *StopOptions) error {
	infos, err := persist.List(opts.Dir)
	if err != nil {
		return err
	}
	ids := map[string]bool{}
	if t := opts.Target; t != nil {
		if t.Kind == target.KindID {
			ids[t.Value] = true
		} else {
			list, err := opts.Resolve(ctx, *t)
			if err != nil {
				return err
			}
			for _, id := range list {
				ids[id] = true
			}
		}
	}
	var failed error
	stopped := 0
	for _, in := range infos {
		if opts.Target != nil && (!ids[in.InstanceID] || opts.Target.User != "" && opts.Target.User != in.User) {
			continue
		}
		if err := persist.Stop(in.Socket); err != nil {
			failed = fmt.Errorf("%s: %w", text.Escape(in.InstanceID), err)
			fmt.Fprintf(opts.IO.ErrOut, "ecsterm: %s\n", text.OneLine(failed.Error()))
			continue
		}
		stopped++
		if !opts.Quiet && opts.IO.IsStderrTTY() {
			fmt.Fprintf(opts.IO.ErrOut, "stopped %s (%d warm sessions ended)\n", text.Escape(in.InstanceID), in.Sessions)
		}
	}
	if failed != nil {
		return cmdutil.ErrSilent
	}
	if stopped == 0 && opts.Target != nil && !opts.Quiet {
		fmt.Fprintf(opts.IO.ErrOut, "nothing warm for %s\n", text.Escape(opts.Target.Raw))
	}
	return nil
}
