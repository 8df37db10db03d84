// Package demo implements `ecsterm demo`: the whole session path against an emulated instance
// on this machine, for a first look without an Alibaba Cloud account.
package demo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/ecsterm/ecsterm/internal/attach"
	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/emulator"
)

// NewCmdDemo builds the command.
func NewCmdDemo(f *cmdutil.Factory) *cobra.Command {
	var delay time.Duration
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
			return run(cmd.Context(), f, delay)
		},
	}
	cmd.Flags().DurationVar(&delay, "agent-delay", time.Second, "how long the emulated agent takes to start a shell, as the real one does")
	return cmd
}

func run(ctx context.Context, f *cmdutil.Factory, delay time.Duration) error {
	log := f.Logger()
	emu, err := emulator.New(emulator.Options{AgentStartDelay: delay, Logger: log})
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
		AccessKeyID: cred.AccessKeyID, AccessKeySecret: cred.AccessKeySecret, Logger: log})
	if err != nil {
		return err
	}
	ios := f.IOStreams
	if cfg, err := f.Config(); err != nil || !cfg.Quiet {
		fmt.Fprintf(ios.ErrOut, "ecsterm demo: emulated region %s at %s; connecting to %s (%s).\n"+
			"Its shell runs as you on this machine, in a scratch home. Type 'exit' to leave.\n",
			emu.Region(), emu.Endpoint(), target.ID, target.Name)
	}
	return attach.New(attach.Config{API: client, Logger: log, Timing: f.Timing}).Shell(ctx, attach.ShellOptions{
		Target:   attach.Target{InstanceID: target.ID},
		Streams:  attach.Streams{Stdin: ios.In, Stdout: ios.Out, Stderr: ios.ErrOut},
		Terminal: attach.Terminal{In: ios.InFile, Out: ios.OutFile, SetRaw: ios.SetRaw},
	})
}
