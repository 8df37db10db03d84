// Package cli builds ecsterm's command tree, runs it, and maps every error to one exit status
// and at most one line on stderr. It is the only place that knows all commands.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ecsterm/ecsterm/internal/attach"
	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/cmd/completion"
	configcmd "github.com/ecsterm/ecsterm/internal/cmd/config"
	"github.com/ecsterm/ecsterm/internal/cmd/connect"
	"github.com/ecsterm/ecsterm/internal/cmd/cp"
	"github.com/ecsterm/ecsterm/internal/cmd/demo"
	"github.com/ecsterm/ecsterm/internal/cmd/doctor"
	"github.com/ecsterm/ecsterm/internal/cmd/emulator"
	execcmd "github.com/ecsterm/ecsterm/internal/cmd/exec"
	"github.com/ecsterm/ecsterm/internal/cmd/forward"
	"github.com/ecsterm/ecsterm/internal/cmd/instances"
	persistcmd "github.com/ecsterm/ecsterm/internal/cmd/persist"
	"github.com/ecsterm/ecsterm/internal/cmd/proxy"
	"github.com/ecsterm/ecsterm/internal/cmd/sessions"
	sshcmd "github.com/ecsterm/ecsterm/internal/cmd/ssh"
	"github.com/ecsterm/ecsterm/internal/cmd/version"
	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/config"
	"github.com/ecsterm/ecsterm/internal/iostreams"
	"github.com/ecsterm/ecsterm/internal/target"
	"github.com/ecsterm/ecsterm/internal/text"
	"github.com/ecsterm/ecsterm/internal/timing"
	"github.com/ecsterm/ecsterm/internal/ttyguard"
	"github.com/ecsterm/ecsterm/pkg/term"
)

// version is stamped by the release build (-ldflags "-X .../internal/cli.buildVersion=v1.2.3").
var buildVersion = "dev"

// Main runs ecsterm with the process's arguments and streams and returns the exit status.
func Main() int {
	if len(os.Args) == 2 && os.Args[1] == ttyguard.Arg {
		return ttyguard.Serve()
	}
	if code, reexeced := guardSDKDebug(); reexeced {
		return code
	}
	defer startProfile()()
	ctx, again, stop := notifyInterrupts(context.Background())
	defer stop()
	ios := iostreams.System()
	done := make(chan int, 1)
	go func() { done <- Run(ctx, ios, os.Args[1:]) }()
	select {
	case code := <-done:
		return code
	case s := <-again:
		// The user does not want to wait for the cleanup the first signal started: what it has
		// not done yet (a session to end, a partial file to remove) stays undone.
		fmt.Fprintf(ios.ErrOut, "ecsterm: %v again: exiting without finishing the cleanup\n", s)
		return (&term.SignalError{Signal: s}).ExitCode()
	}
}

// Run runs ecsterm with args on ios and returns the exit status.
func Run(ctx context.Context, ios *iostreams.IOStreams, args []string) int {
	rec := timing.New(time.Now())
	root := NewCmdRoot(ios, rec)
	root.SetArgs(args)
	root.SetIn(ios.In)
	root.SetOut(ios.Out)
	root.SetErr(ios.ErrOut)
	err := root.ExecuteContext(ctx)
	code := exitCode(ios.ErrOut, root, err, interrupted(ctx))
	if on, _ := root.PersistentFlags().GetBool("timing"); on && (rec.Marked() || err != nil && code != cmdutil.ExitUsage) {
		fmt.Fprintln(ios.ErrOut, "ecsterm:", rec.Summary())
	}
	return code
}

// NewCmdRoot builds the command tree and the one Factory its commands share. rec hears the
// steps of --timing; nil hears nothing.
func NewCmdRoot(ios *iostreams.IOStreams, rec *timing.Recorder) *cobra.Command {
	var configFile string
	root := &cobra.Command{
		Use:   "ecsterm <command>",
		Short: "An ssh-like terminal for Alibaba Cloud ECS instances, through Cloud Assistant sessions",
		Long: `ecsterm opens shells on ECS instances, runs commands and forwards ports through Cloud
Assistant session management: no public IP, no open port 22, no SSH keys.

Credentials come from the Alibaba Cloud credential chain: ALIBABA_CLOUD_ACCESS_KEY_ID and
ALIBABA_CLOUD_ACCESS_KEY_SECRET (plus ALIBABA_CLOUD_SECURITY_TOKEN for STS), the aliyun CLI's
~/.aliyun/config.json profiles, ~/.alibabacloud/credentials, or the instance's RAM role.`,
		Example: `  ecsterm connect i-bp1eifrtpxa9tb0001
  ecsterm --region cn-shanghai --profile prod connect i-uf6...
  ecsterm demo            # the whole path against a local emulated instance`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.String("profile", "", "credential profile (aliyun CLI config.json or ~/.alibabacloud/credentials)")
	pf.String("region", "", "region ID, e.g. cn-hangzhou (default: ALIBABA_CLOUD_REGION_ID or the profile's)")
	pf.String("endpoint", "", "ECS OpenAPI endpoint URL (https; http only for loopback)")
	pf.StringP("output", "o", "text", "output format: text or json")
	pf.BoolP("quiet", "q", false, "print only errors")
	pf.Bool("debug", false, "print diagnostics (never secrets) to stderr")
	pf.Bool("timing", false, "on exit, print when each step happened (preflight, StartTerminalSession, WebSocket open, first output) to stderr")
	pf.StringVar(&configFile, "config", "", "config file (default "+config.DefaultFile()+")")
	addSessionFlags(pf)
	root.PersistentPreRunE = checkSessionFlags

	f := newFactory(ios, rec, func() (*config.Config, error) { return config.Load(pf, configFile) })
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return &cmdutil.FlagError{Err: err} })

	root.AddCommand(
		connect.NewCmdConnect(f, nil),
		execcmd.NewCmdExec(f, nil),
		cp.NewCmdCp(f, nil),
		demo.NewCmdDemo(f, nil),
		doctor.NewCmdDoctor(f, nil),
		emulator.NewCmdEmulator(f, nil),
		instances.NewCmdInstances(f, nil),
		sessions.NewCmdSessions(f, nil),
		forward.NewCmdForward(f, nil),
		proxy.NewCmdProxy(f, nil),
		sshcmd.NewCmdSSH(f, nil), sshcmd.NewCmdSSHConfig(f, nil),
		version.NewCmdVersion(f, nil),
		persistcmd.NewCmdPersist(f),
		configcmd.NewCmdConfig(f, nil),
		completion.NewCmdCompletion(f, nil),
		completion.NewCmdRefreshCache(f, nil),
	)
	return root
}

// newFactory builds the Factory: every dependency is made on first use, from load's settings.
func newFactory(ios *iostreams.IOStreams, rec *timing.Recorder, load func() (*config.Config, error)) *cmdutil.Factory {
	f := &cmdutil.Factory{IOStreams: ios, Version: buildVersion, Timing: rec, Config: cmdutil.Once(load)}
	f.Logger = func() *slog.Logger {
		level := slog.LevelWarn
		if cfg, err := f.Config(); err == nil {
			switch {
			case cfg.Debug:
				level = slog.LevelDebug
			case cfg.Quiet:
				level = slog.LevelError
			}
		}
		return slog.New(slog.NewTextHandler(ios.ErrOut, &slog.HandlerOptions{Level: level}))
	}
	f.Cloud = cmdutil.Once(func() (*cloud.Client, error) {
		cfg, err := f.Config()
		if err != nil {
			return nil, err
		}
		return cloud.New(cloud.Config{Region: cfg.Region, Endpoint: cfg.Endpoint, Profile: cfg.Profile,
			Logger: f.Logger(), UserAgent: "ecsterm/" + buildVersion,
			ConnectionType: cfg.ConnectionType, PasswordName: cfg.PasswordName})
	})
	f.Sessions = cmdutil.Once(func() (cmdutil.Sessions, error) {
		client, err := f.Cloud()
		if err != nil {
			return nil, err
		}
		return attach.New(attach.Config{API: client, Logger: f.Logger(), Timing: rec}), nil
	})
	return f
}

// exitCode prints err (once, on one line) and returns the status to exit with. sig is the
// signal that cancelled the command's context, if one did: a command that fails after it exits
// with 128+n, and says nothing about errors that only report the cancellation. A command that
// returns nil after a signal (forward and proxy stop that way, once their sessions are ended)
// exits 128+n too, as a shell expects of a program that a signal stopped.
func exitCode(errOut io.Writer, root *cobra.Command, err error, sig *term.SignalError) int {
	if err == nil {
		if sig != nil {
			return sig.ExitCode()
		}
		return cmdutil.ExitOK
	}
	var (
		exitErr   *cmdutil.ExitError
		flagErr   *cmdutil.FlagError
		sigErr    *term.SignalError
		ambiguous *target.AmbiguousError
	)
	if sig != nil {
		if !errors.As(err, &exitErr) && !errors.As(err, &sigErr) && !errors.Is(err, cmdutil.ErrSilent) &&
			!errors.Is(err, context.Canceled) {
			fmt.Fprintf(errOut, "ecsterm: %s\n", text.OneLine(err.Error()))
		}
		return sig.ExitCode()
	}
	switch {
	case errors.As(err, &exitErr):
		return exitErr.Code
	case errors.Is(err, cmdutil.ErrSilent):
		return cmdutil.ExitFailure
	case errors.As(err, &sigErr):
		return sigErr.ExitCode()
	case errors.As(err, &flagErr) || isUsageError(err):
		fmt.Fprintf(errOut, "ecsterm: %s\nRun 'ecsterm --help' for usage.\n", text.OneLine(err.Error()))
		return cmdutil.ExitUsage
	case errors.Is(err, context.Canceled):
		return cmdutil.ExitInterrupt
	case errors.As(err, &ambiguous):
		// The list of matches is the point of this error: one escaped line per instance.
		fmt.Fprintf(errOut, "ecsterm: %s\n", ambiguous.Error())
		return cmdutil.ExitFailure
	}
	fmt.Fprintf(errOut, "ecsterm: %s\n", text.OneLine(err.Error()))
	return cmdutil.ExitFailure
}

// isUsageError recognises cobra's own argument errors, which are not typed, and bad settings and
// session parameters, which are.
func isUsageError(err error) bool {
	var ue *cloud.UsageError
	if errors.Is(err, config.ErrInvalid) || errors.As(err, &ue) {
		return true
	}
	s := err.Error()
	return strings.HasPrefix(s, "unknown command") || strings.HasPrefix(s, "unknown flag") ||
		strings.HasPrefix(s, "unknown shorthand flag") || strings.Contains(s, " arg(s), received ")
}
