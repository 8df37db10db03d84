package persist

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gorilla/websocket"
	"github.com/spf13/cobra"

	"github.com/ecsterm/ecsterm/internal/attach"
	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/persist"
	"github.com/ecsterm/ecsterm/pkg/rexec"
	"github.com/ecsterm/ecsterm/pkg/session"
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
			key := persist.Key{Endpoint: cfg.Endpoint, Region: cfg.Region, Profile: cfg.Profile, ConnectionType: cfg.ConnectionType,
				InstanceID: args[0], User: user}
			h, err := persist.Listen(dir, persist.Config{
				Key: key, Idle: idle, Logger: log, CommandLine: rexec.WarmBootstrap,
				NewWarm: func() (persist.Warm, error) { return rexec.NewWarm() },
				Open: func(ctx context.Context, commandLine string) (persist.Channel, error) {
					return open(ctx, client, key, commandLine)
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

// channel is one warm session's WebSocket, and the session to end.
type channel struct {
	client attach.API
	id     string
	conn   *websocket.Conn
}

func (c *channel) Run(ctx context.Context, o session.Options) error {
	return session.Run(ctx, c.conn, o)
}

func (c *channel) End() {
	c.conn.Close()
	_ = c.client.EndSession(c.id)
}

// open preflights the instance, starts a session running commandLine and dials it. A warm
// session needs a Linux instance, as exec does.
func open(ctx context.Context, client attach.API, key persist.Key, commandLine string) (persist.Channel, error) {
	inst, err := client.Preflight(ctx, key.InstanceID)
	if err != nil {
		return nil, err
	}
	if inst.Windows() {
		return nil, fmt.Errorf("%s %w", inst.ID, attach.ErrWindows)
	}
	// The answer names a session to end even if ctx ends meanwhile.
	sess, err := client.StartSession(context.WithoutCancel(ctx), cloud.StartOptions{InstanceID: key.InstanceID, Username: key.User, CommandLine: commandLine})
	if err != nil {
		return nil, err
	}
	conn, err := session.Dial(ctx, sess.URL, session.DialOptions{Token: sess.Token})
	if err != nil {
		_ = client.EndSession(sess.ID)
		return nil, err
	}
	return &channel{client: client, id: sess.ID, conn: conn}, nil
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
