// Package completion implements `ecsterm completion bash|zsh|fish|powershell`, which prints the
// shell's completion script, and the hidden command that refreshes the cache of instances
// behind the dynamic completion of targets (see complete.Completer).
//
// The scripts are also committed in completions/ for packages and archives; regenerate them with
// `go generate ./internal/cli` after changing the command tree.
package completion

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/iostreams"
	"github.com/ecsterm/ecsterm/internal/target"
	"github.com/ecsterm/ecsterm/internal/target/cache"
)

// Options are `completion`'s inputs.
type Options struct {
	IO *iostreams.IOStreams
	// Root is the command tree the script completes.
	Root         *cobra.Command
	Shell        string
	Descriptions bool
}

// RefreshOptions are the hidden refresh command's inputs. A client that cannot be built is
// kept as APIErr, not returned by RunE: the refresh still has to release the completion's lock.
type RefreshOptions struct {
	File   string
	API    target.Lister // ListInstances; nil when APIErr says why there is none
	APIErr error
}

// Shells are the shells with a completion script, in the order help lists them.
var shells = []string{"bash", "zsh", "fish", "powershell"}

// Files maps each shell to its script's name in completions/.
func Files() map[string]string {
	return map[string]string{"bash": "ecsterm.bash", "zsh": "ecsterm.zsh", "fish": "ecsterm.fish", "powershell": "ecsterm.ps1"}
}

// NewCmdCompletion builds the command. runF replaces completionRun in tests of parsing.
func NewCmdCompletion(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	if runF == nil {
		runF = completionRun
	}
	var noDesc bool
	cmd := &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print the shell completion script for bash, zsh, fish or PowerShell",
		Long: `Print the completion script for a shell. Commands, flags and, for connect, exec, cp, forward,
proxy and doctor, targets complete: aliases, instance names and IDs of the region (and tag:key=value
after "tag:").

Targets come from a cache of the region's instances in your cache directory (private to you),
refreshed in the background when it is older than 5 minutes: a slow API never blocks the shell.
Only the very first completion, with no cache yet, waits for it, and never more than 1.5 s.

The deb and rpm packages install the scripts for bash, zsh and fish already. Otherwise:

  bash        ecsterm completion bash > ~/.local/share/bash-completion/completions/ecsterm
              (needs the bash-completion package; or add 'source <(ecsterm completion bash)' to ~/.bashrc)
  zsh         ecsterm completion zsh > "${fpath[1]}/_ecsterm"
              (with 'autoload -U compinit; compinit' in ~/.zshrc)
  fish        ecsterm completion fish > ~/.config/fish/completions/ecsterm.fish
  PowerShell  ecsterm completion powershell | Out-String | Invoke-Expression
              (add that line to $PROFILE to keep it)`,
		Example: `  ecsterm completion zsh > "${fpath[1]}/_ecsterm"
  source <(ecsterm completion bash)`,
		ValidArgs:             shells,
		DisableFlagsInUseLine: true,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 || !slices.Contains(shells, args[0]) {
				return cmdutil.FlagErrorf("give one shell: %s", strings.Join(shells, ", "))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Root, opts.Shell, opts.Descriptions = cmd.Root(), args[0], !noDesc
			return runF(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&noDesc, "no-descriptions", false, "leave out the descriptions beside each completion")
	return cmd
}

func completionRun(_ context.Context, opts *Options) error {
	return Generate(opts.Root, opts.Shell, opts.IO.Out, opts.Descriptions)
}

// Generate writes shell's completion script for the command tree under root.
func Generate(root *cobra.Command, shell string, w io.Writer, descriptions bool) error {
	switch shell {
	case "bash":
		return root.GenBashCompletionV2(w, descriptions)
	case "zsh":
		if descriptions {
			return root.GenZshCompletion(w)
		}
		return root.GenZshCompletionNoDesc(w)
	case "fish":
		return root.GenFishCompletion(w, descriptions)
	case "powershell":
		if descriptions {
			return root.GenPowerShellCompletionWithDesc(w)
		}
		return root.GenPowerShellCompletion(w)
	}
	return fmt.Errorf("no completion for shell %q", shell)
}

// NewCmdRefreshCache builds the hidden command that a completion starts in the background when
// the cache of instances is old or missing: it lists the region's instances and writes FILE.
// It takes the root's flags (region, profile, endpoint, config) that the completion resolved.
// runF replaces refreshRun in tests.
func NewCmdRefreshCache(f *cmdutil.Factory, runF func(context.Context, *RefreshOptions) error) *cobra.Command {
	opts := &RefreshOptions{}
	if runF == nil {
		runF = refreshRun
	}
	return &cobra.Command{
		Use:    cache.RefreshCommand + " FILE",
		Short:  "Refresh the cache of instances behind target completion",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			if c, err := f.Cloud(); err != nil {
				opts.APIErr = err
			} else {
				opts.API = c
			}
			return runF(cmd.Context(), opts)
		},
	}
}

// refreshRun rewrites the cache file, within cache.RefreshTimeout, and releases the lock
// whether or not it could.
func refreshRun(ctx context.Context, opts *RefreshOptions) error {
	ctx, cancel := context.WithTimeout(ctx, cache.RefreshTimeout)
	defer cancel()
	return cache.Refresh(ctx, opts.File, func() (target.Lister, error) {
		if opts.API == nil {
			return nil, cmp.Or(opts.APIErr, errors.New("no API client"))
		}
		return opts.API, nil
	})
}
