// Package version implements `ecsterm version`.
package version

import (
	"context"
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/iostreams"
)

// Options are the command's inputs.
type Options struct {
	IO      *iostreams.IOStreams
	Version string // ecsterm's own, as built
}

// NewCmdVersion builds the command. runF replaces versionRun in tests.
func NewCmdVersion(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	if runF == nil {
		runF = versionRun
	}
	return &cobra.Command{
		Use:   "version",
		Short: "Print ecsterm's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Version = f.Version
			return runF(cmd.Context(), opts)
		},
	}
}

func versionRun(_ context.Context, opts *Options) error {
	_, err := fmt.Fprintf(opts.IO.Out, "ecsterm %s (%s, %s/%s)\n", opts.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return err
}
