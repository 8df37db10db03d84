package persist

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/ecsterm/ecsterm/internal/attach"
	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/persist"
)

// ServeOptions are the holder's inputs.
type ServeOptions struct {
	Key    persist.Key
	Idle   time.Duration
	Dir    string // the sockets' directory
	Logger *slog.Logger
	// Open starts a warm session's channel (attach.Open on the Factory's client).
	Open func(ctx context.Context, commandLine string) (persist.Channel, error)
}

// NewCmdServe builds the hidden `ecsterm persist serve`: the holder itself, started in the
// background by exec or cp with --persist (persist.ServeArgs), never by hand. runF replaces
// serveRun in tests of flag parsing.
func NewCmdServe(f *cmdutil.Factory, runF func(context.Context, *ServeOptions) error) *cobra.Command {
	if runF == nil {
		runF = serveRun
	}
	opts := &ServeOptions{}
	var user string
	cmd := &cobra.Command{
		Use:    "serve [flags] -- <instance-id>",
		Short:  "The background holder of warm sessions (started by --persist)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Idle <= 0 {
				return cmdutil.FlagErrorf("--idle must be positive")
			}
			cfg, err := f.Config()
			if err != nil {
				return err
			}
			client, err := f.Cloud()
			if err != nil {
				return err
			}
			if opts.Dir, err = persist.Dir(); err != nil {
				return err
			}
			opts.Logger = f.Logger()
			opts.Key = persist.Key{Endpoint: cfg.Endpoint, Region: cfg.Region, Profile: cfg.Profile, ConnectionType: cfg.ConnectionType,
				InstanceID: args[0], User: user}
			sessions := attach.New(attach.Config{API: client, Logger: opts.Logger})
			target := attach.Target{InstanceID: opts.Key.InstanceID, Username: opts.Key.User}
			opts.Open = func(ctx context.Context, commandLine string) (persist.Channel, error) {
				// A warm session runs the exec exchange: Linux only, as exec.
				return sessions.Open(ctx, target, commandLine, true)
			}
			return runF(cmd.Context(), opts)
		},
	}
	cmd.Flags().DurationVar(&opts.Idle, "idle", 0, "exit after this long without a command")
	cmd.Flags().StringVarP(&user, "user", "l", "", "the user the sessions log in as")
	return cmd
}

// serveRun holds warm sessions for opts.Key until it is idle for opts.Idle, stopped, or its
// credentials fail. A holder for the key that runs already makes it return nil at once.
func serveRun(ctx context.Context, opts *ServeOptions) error {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h, err := persist.Listen(opts.Dir, persist.Config{Key: opts.Key, Idle: opts.Idle, Logger: log, Open: opts.Open, Fatal: credentialsFailed})
	if errors.Is(err, persist.ErrRunning) {
		log.Debug("a holder for this key runs already")
		return nil
	}
	if err != nil {
		return err
	}
	log.Debug("persist holder listening", "instance", opts.Key.InstanceID, "idle", opts.Idle.String())
	return h.Serve(ctx)
}

// credentialsFailed says whether err means the holder's credentials no longer work: then it
// exits, and the next command starts cold and says what is wrong.
func credentialsFailed(err error) bool {
	if errors.Is(err, cloud.ErrNoCredentials) {
		return true
	}
	var api *cloud.APIError
	if !errors.As(err, &api) {
		return false
	}
	switch api.Code {
	case "InvalidAccessKeyId.NotFound", "InvalidAccessKeyId.Inactive", "SignatureDoesNotMatch",
		"InvalidSecurityToken.Expired", "InvalidSecurityToken.Malformed", "InvalidSecurityToken.MismatchWithAccessKey":
		return true
	}
	return false
}
