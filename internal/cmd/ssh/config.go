package ssh

import (
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/complete"
	"github.com/ecsterm/ecsterm/internal/iostreams"
	"github.com/ecsterm/ecsterm/internal/target"
	"github.com/ecsterm/ecsterm/internal/text"
)

// ConfigOptions are everything configRun needs: the instances as given, the global flags for
// the ProxyCommand, and the API that resolves and names the instances (nil when none is given:
// the i-* block needs no client).
type ConfigOptions struct {
	IO      *iostreams.IOStreams
	API     API
	Specs   []target.Spec
	Globals []string
}

// NewCmdSSHConfig builds the command. runF replaces configRun in tests of argument parsing.
func NewCmdSSHConfig(f *cmdutil.Factory, runF func(context.Context, *ConfigOptions) error) *cobra.Command {
	opts := &ConfigOptions{IO: f.IOStreams}
	if runF == nil {
		runF = configRun
	}
	cmd := &cobra.Command{
		Use:   "ssh-config [instance...]",
		Short: "Print ~/.ssh/config blocks that reach instances through ecsterm proxy",
		Long: `Print Host blocks for ~/.ssh/config, so that ssh, scp, rsync, git and editors' remote modes
reach instances through 'ecsterm proxy' and check host keys against the ones 'ecsterm ssh'
read through a session and pinned (ecsterm's known_hosts file, StrictHostKeyChecking yes).

With instances, one block each, for its ID and its name (HostKeyAlias is the ID, so the pinned
keys match whatever port and name you use). Without, one block for every i-* instance ID.

Those tools still need a key that the instance accepts: a key of yours in the user's
~/.ssh/authorized_keys (from your ssh-agent or IdentityFile), or run 'ecsterm ssh' once
first, which also pins the host keys: its own key lives for that connection only. A host
whose keys are not pinned yet is refused until 'ecsterm ssh' has run for it.`,
		Example: `  ecsterm ssh-config web-01 db-01 >> ~/.ssh/config
  ecsterm ssh web-01 -- true      # pins web-01's host keys
  scp ./site.tgz root@web-01:/tmp/
  rsync -a ./site/ root@web-01:/srv/site/`,
		ValidArgsFunction: complete.Targets(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Specs = nil
			for _, a := range args {
				spec, err := target.Parse(cmdutil.ExpandAlias(f, a))
				if err != nil {
					return &cmdutil.FlagError{Err: err}
				}
				opts.Specs = append(opts.Specs, spec)
			}
			opts.Globals = globalFlags(cmd.Flags())
			opts.API = nil
			if len(opts.Specs) > 0 {
				client, err := f.Cloud()
				if err != nil {
					return err
				}
				opts.API = client
			}
			return runF(cmd.Context(), opts)
		},
	}
	return cmd
}

// hostRe is an instance name that can stand in a Host line as itself: no pattern characters,
// no spaces, no quotes.
var hostRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// block is one Host block to print.
type block struct {
	patterns []string
	id       string // "" for the i-* block
}

// configRun prints a Host block for each instance the specs match, or the i-* block.
func configRun(ctx context.Context, opts *ConfigOptions) error {
	var blocks []block
	for _, spec := range opts.Specs {
		matches, err := target.Resolve(ctx, opts.API, spec)
		if err != nil {
			return err
		}
		for _, m := range matches {
			if !idRe.MatchString(m.ID) {
				return fmt.Errorf("the service returned an instance ID ecsterm will not put in ssh's config: %s", text.OneLine(m.ID))
			}
			b := block{patterns: []string{m.ID}, id: m.ID}
			if m.Name != "" && m.Name != m.ID && hostRe.MatchString(m.Name) {
				b.patterns = append(b.patterns, m.Name)
			}
			blocks = append(blocks, b)
		}
	}
	if err := addNames(ctx, opts.API, blocks); err != nil {
		return err
	}
	if len(opts.Specs) == 0 {
		blocks = []block{{patterns: []string{"i-*"}}}
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding ecsterm's own path for the ProxyCommand: %w", err)
	}
	known, err := pinnedFile()
	if err != nil {
		return err
	}
	return writeConfig(opts.IO.Out, self, known, opts.Globals, blocks)
}

// addNames adds the names of instances given by ID (resolution does not look those up) with
// one DescribeInstances call per hundred.
func addNames(ctx context.Context, client API, blocks []block) error {
	var ids []string
	for _, b := range blocks {
		if len(b.patterns) == 1 {
			ids = append(ids, b.id)
		}
	}
	names := map[string]string{}
	for len(ids) > 0 {
		n := min(len(ids), 100)
		insts, err := client.ListInstances(ctx, cloud.InstanceFilter{IDs: ids[:n]})
		if err != nil {
			return err
		}
		for _, in := range insts {
			names[in.ID] = in.Name
		}
		ids = ids[n:]
	}
	for i, b := range blocks {
		if name := names[b.id]; len(b.patterns) == 1 && name != "" && name != b.id && hostRe.MatchString(name) {
			blocks[i].patterns = append(b.patterns, name)
		}
	}
	return nil
}

// writeConfig prints blocks.
func writeConfig(w io.Writer, self, known string, globals []string, blocks []block) error {
	if strings.ContainsAny(known, "\"\n\r") || strings.ContainsAny(self, "\n\r") {
		return fmt.Errorf("%q or %q cannot be written in ssh's config", known, self)
	}
	var b strings.Builder
	b.WriteString("# OpenSSH through Cloud Assistant sessions (ecsterm ssh-config). Host keys are pinned\n")
	b.WriteString("# by `ecsterm ssh`; a key of yours must be in the user's authorized_keys.\n")
	for _, bl := range blocks {
		proxy := proxyCommand(append(append([]string{self}, globals...), "proxy"))
		if bl.id != "" {
			proxy += " " + bl.id
		} else {
			proxy += " %h"
		}
		fmt.Fprintf(&b, "Host %s\n", strings.Join(bl.patterns, " "))
		if bl.id != "" {
			fmt.Fprintf(&b, "    HostName %s\n    HostKeyAlias %s\n", bl.id, bl.id)
		}
		fmt.Fprintf(&b, "    ProxyCommand %s %%p\n", proxy)
		fmt.Fprintf(&b, "    UserKnownHostsFile %s\n", sshConfigQuote(known))
		b.WriteString("    StrictHostKeyChecking yes\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
