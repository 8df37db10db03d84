package sessions

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/iostreams"
	"github.com/ecsterm/ecsterm/internal/text"
)

// EndAPI is what `sessions end` needs of the cloud client; *cloud.Client is the real one.
type EndAPI interface {
	// EndTerminalSession ends one session (EndTerminalSession).
	EndTerminalSession(ctx context.Context, id string) error
}

var _ EndAPI = (*cloud.Client)(nil)

// EndOptions are `sessions end`'s inputs: the session IDs and the API.
type EndOptions struct {
	IO  *iostreams.IOStreams
	API EndAPI
	IDs []string
}

// maxSessionID bounds an ID from the command line; the service's are about 20 characters.
const maxSessionID = 128

func newCmdEnd(f *cmdutil.Factory, runF func(context.Context, *EndOptions) error) *cobra.Command {
	opts := &EndOptions{IO: f.IOStreams}
	if runF == nil {
		runF = endRun
	}
	return &cobra.Command{
		Use:   "end <session-id>...",
		Short: "End sessions (EndTerminalSession), whoever started them",
		Long: `End each session given (EndTerminalSession): its connections close at once and its URL
stops working, so it no longer counts against the region's session quota. A connect
attached to it says the session was ended from outside and exits 255.

Each session is tried, even after one fails; the exit status is 255 if any failed.`,
		Example: `  ecsterm sessions end s-hz023od0x9abcd
  ecsterm sessions --active -o json | jq -r '.[].session_id' | xargs ecsterm sessions end`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, id := range args {
				if id == "" || len(id) > maxSessionID {
					return cmdutil.FlagErrorf("not a session ID: %q", text.OneLine(id))
				}
			}
			opts.IDs = args
			client, err := f.Cloud()
			if err != nil {
				return err
			}
			opts.API = client
			return runF(cmd.Context(), opts)
		},
	}
}

func endRun(ctx context.Context, opts *EndOptions) error {
	var errs []error
	for _, id := range opts.IDs {
		if err := opts.API.EndTerminalSession(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", text.OneLine(id), err))
			continue
		}
		fmt.Fprintf(opts.IO.ErrOut, "ended %s\n", text.OneLine(id))
	}
	return errors.Join(errs...)
}
