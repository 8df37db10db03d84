package persist

import (
	"context"
	"errors"
	"time"

	"github.com/spf13/cobra"

	"github.com/ecsterm/ecsterm/internal/attach"
	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/persist"
)

// NewCmdServe builds the hidden `ecsterm persist serve`: the holder itself, started in the
// background by exec or cp with --persist (persist.ServeArgs), never by hand.
func NewCmdServe(f *cmdutil.Factory) *cobra.Command {
	var (
		idle time.Duration
		user string
	)
	cmd := &cobra.Command{
		Use:    "serve [flags] -- <instance-id>",
		Short:  "The background holder of warm sessions (started by --persist)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if idle <= 0 {
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
			dir, err := persist.Dir()
			if err != nil {
				return err
			}
			log := f.Logger()
			sessions := attach.New(attach.Config{API: client, Logger: log})
			key := persist.Key{Endpoint: cfg.Endpoint, Region: cfg.Region, Profile: cfg.Profile, ConnectionType: cfg.ConnectionType,
				InstanceID: args[0], User: user}
			h, err := persist.Listen(dir, persist.Config{
				Key: key, Idle: idle, Logger: log,
				Open: func(ctx context.Context, commandLine string) (persist.Channel, error) {
					// A warm session runs the exec exchange: Linux only, as exec.
					return sessions.Open(ctx, attach.Target{InstanceID: key.InstanceID, Username: key.User}, commandLine, true)
				},
				Fatal: credentialsFailed,
			})
			if errors.Is(err, persist.ErrRunning) {
				log.Debug("a holder for this key runs already")
				return nil
			}
			if err != nil {
				return err
			}
			log.Debug("persist holder listening", "instance", key.InstanceID, "idle", idle.String())
			return h.Serve(cmd.Context())
		},
	}
	cmd.Flags().DurationVar(&idle, "idle", 0, "exit after this long without a command")
	cmd.Flags().StringVarP(&user, "user", "l", "", "the user the sessions log in as")
	return cmd
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
