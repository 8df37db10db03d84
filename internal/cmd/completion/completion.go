// Package completion implements `ecsterm completion bash|zsh|fish|powershell`, which prints the
// shell's completion script, and the hidden command that refreshes the cache of instances
// behind the dynamic completion of targets (see complete.Completer).
//
// The scripts are also committed in completions/ for packages and archives; regenerate them with
// `go generate ./internal/cli` after changing the command tree.
package completion

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/target"
	"github.com/ecsterm/ecsterm/internal/target/cache"
)

// Shells are the shells with a completion script, in the order help lists them.
var shells = []string{"bash", "zsh", "fish", "powershell"}

// Files maps each shell to its script's name in completions/.
func Files() map[string]string {
	return map[string]string{"bash": "ecsterm.bash", "zsh": "ecsterm.zsh", "fish": "ecsterm.fish", "powershell": "ecsterm.ps1"}
}

// NewCmdCompletion builds the command.
func NewCmdCompletion(f *cmdutil.Factory) *cobra.Command {
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
			return Generate(cmd.Root(), args[0], f.IOStreams.Out, !noDesc)
		},
	}
	cmd.Flags().BoolVar(&noDesc, "no-descriptions", false, "leave out the descriptions beside each completion")
	return cmd
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
func NewCmdRefreshCache(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:    cache.RefreshCommand + " FILE",
		Short:  "Refresh the cache of instances behind target completion",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), cache.RefreshTimeout)
			defer cancel()
			return cache.Refresh(ctx, args[0], func() (target.Lister, error) {
				c, err := f.Cloud()
				if err != nil {
					return nil, err
				}
				return c, nil
			})
		},
	}
}
