// Package demo implements `ecsterm demo`: the whole session path against an emulated instance
// on this machine, for a first look without an Alibaba Cloud account.
package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/ecsterm/ecsterm/internal/attach"
	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/emulator"
	"github.com/ecsterm/ecsterm/internal/iostreams"
)

// Options are demo's inputs once flags and settings are read: everything demoRun needs.
type Options struct {
	IO     *iostreams.IOStreams
	Logger *slog.Logger
	Quiet  bool // -q: no banner
	// AgentDelay is how long the emulated agent takes to start a shell.
	AgentDelay time.Duration
	// Sessions builds the seam that opens the shell, over the emulator's API (the account and
	// endpoint are the emulator's own, not the configured ones).
	Sessions func(api attach.API) cmdutil.Sessions
}

// NewCmdDemo builds the command. RunE fills Options and calls runF, or demoRun when runF is nil
// (tests of flag parsing pass their own).
func NewCmdDemo(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	if runF == nil {
		runF = demoRun
	}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Open a shell on an emulated ECS instance running on this machine",
		Long: `Start the built-in emulator of Alibaba Cloud (ECS OpenAPI with real request signatures, the
session gateway's WebSocket protocol, and a Cloud Assistant agent with a real PTY) on
127.0.0.1, then connect to its instance through the same path 'ecsterm connect' takes:
credentials, a signed API call, preflight, StartTerminalSession, the WebSocket, raw mode.

The emulated instance is this machine: its shell runs as you, in a scratch home directory
that is removed afterwards. Nothing leaves loopback.`,
		Example: `  ecsterm demo
  ecsterm demo --agent-delay 0    # skip the real agent's one-second start-up`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// A configuration that does not load keeps the banner: the demo needs none of it.
			cfg, err := f.Config()
			opts.Quiet = err == nil && cfg.Quiet
			opts.Logger = f.Logger()
			opts.Sessions = func(api attach.API) cmdutil.Sessions {
				return attach.New(attach.Config{API: api, Logger: opts.Logger, Timing: f.Timing})
			}
			return runF(cmd.Context(), opts)
		},
	}
	cmd.Flags().DurationVar(&opts.AgentDelay, "agent-delay", time.Second, "how long the emulated agent takes to start a shell, as the real one does")
	return cmd
}

func demoRun(ctx context.Context, opts *Options) error {
	emu, err := emulator.New(emulator.Options{AgentStartDelay: opts.AgentDelay, Logger: opts.Logger})
	if err != nil {
		return fmt.Errorf("starting the emulator: %w", err)
	}
	defer emu.Close()
	var target *emulator.Instance
	for i, in := range emu.Fleet().Instances {
		if in.Status == "Running" && in.Agent != nil && in.Agent.Online && in.OS == "Linux" {
			target = &emu.Fleet().Instances[i]
			break
		}
	}
	if target == nil {
		return errors.New("the emulator's fleet has no instance ready for sessions")
	}
	cred := emu.Credential()
	client, err := cloud.New(cloud.Config{Region: emu.Region(), Endpoint: emu.Endpoint(),
		AccessKeyID: cred.AccessKeyID, AccessKeySecret: cred.AccessKeySecret, Logger: opts.Logger})
	if err != nil {
		return err
	}
	ios := opts.IO
	if !opts.Quiet {
		fmt.Fprintf(ios.ErrOut, "ecsterm demo: emulated region %s at %s; connecting to %s (%s).\n"+
			"Its shell runs as you on this machine, in a scratch home. Type 'exit' to leave.\n",
			emu.Region(), emu.Endpoint(), target.ID, target.Name)
	}
	return opts.Sessions(client).Shell(ctx, attach.ShellOptions{
		Target:   attach.Target{InstanceID: target.ID},
		Streams:  attach.Streams{Stdin: ios.In, Stdout: ios.Out, Stderr: ios.ErrOut},
		Terminal: attach.Terminal{In: ios.InFile, Out: ios.OutFile, SetRaw: ios.SetRaw},
	})
}
