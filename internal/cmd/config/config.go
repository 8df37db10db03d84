// Package config implements `ecsterm config`: ecsterm's own settings (region, profile, endpoint,
// output, escape character, target aliases), where each value comes from, and setting them in
// the config file.
package config

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ecsterm/ecsterm/internal/cmdutil"
	cfgpkg "github.com/ecsterm/ecsterm/internal/config"
	"github.com/ecsterm/ecsterm/internal/iostreams"
	"github.com/ecsterm/ecsterm/internal/text"
)

// Store is what the command needs of the configuration: the settings with their sources, as
// every command sees them, and edits to the config file. It is asked only when a subcommand
// needs it, and set asks again after writing: a configuration that does not resolve can still
// be repaired with set or unset.
type Store interface {
	// Inspect resolves the settings with their sources.
	Inspect() (*cfgpkg.Settings, error)
	// Set writes key (or alias.NAME) to the config file.
	Set(file, key, value string) error
	// Unset removes key (or alias.NAME) from the config file.
	Unset(file, key string) error
}

// Options are the inputs of every config subcommand once flags and arguments are parsed.
type Options struct {
	IO    *iostreams.IOStreams
	Store Store
	// Sub is the subcommand: list, get, set, unset or path.
	Sub string
	// File is the config file that set and unset write: --config, or the default location.
	File  string
	Key   string
	Value string
}

// NewCmdConfig builds `ecsterm config` and its subcommands. runF replaces configRun, which runs
// the subcommand Options.Sub names, in tests of parsing.
func NewCmdConfig(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	if runF == nil {
		runF = configRun
	}
	run := func(cmd *cobra.Command, sub string) error {
		opts.Sub = sub
		opts.File, opts.Store = storeFor(cmd)
		return runF(cmd.Context(), opts)
	}
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show and change ecsterm's settings and target aliases",
		Long: `Show ecsterm's settings, each with its value and where that value came from, and set them in
the config file (` + "`ecsterm config path`" + ` prints where it is).

Precedence, highest first: command-line flags (--profile, --region, --endpoint, -o, -q,
--debug, --connection-type; -e for the escape character), environment variables, the config
file, defaults. The region falls back to the region_id of the aliyun CLI profile in use.

Keys:
  profile    credential profile (env ALIBABA_CLOUD_PROFILE)
  region     region ID (env ALIBABA_CLOUD_REGION_ID; default: the profile's region_id)
  endpoint   ECS OpenAPI endpoint URL (env ECSTERM_ENDPOINT)
  output     text or json (env ECSTERM_OUTPUT)
  quiet      true or false
  debug      true or false
  escape     session escape character: one character, ^X, or none (env ECSTERM_ESCAPE; default ~)
  connection_type
             internet or intranet: the network of session URLs; intranet for a client inside
             the VPC with no internet egress (env ECSTERM_CONNECTION_TYPE; default: the service's)
  record_dir a directory where connect and exec -t record every session, one asciicast file
             each, named by time, instance and session (env ECSTERM_RECORD_DIR; ~/ is your home)
  persist    how long exec and cp keep a warm session for the next command on the same
             instance: a duration such as 60s or 10m, or 0, no or off for none (env ECSTERM_PERSIST)
  alias.NAME a target that NAME stands for wherever a target goes, e.g. alias.web admin@i-bp1...

An alias replaces a target that is exactly its name; a user given before it wins over one in
the alias (root@web). Aliases do not refer to other aliases.

The file is YAML, private to you (mode 0600); set and unset keep its comments.`,
		Example: `  ecsterm config
  ecsterm config get region
  ecsterm config set region cn-shanghai
  ecsterm config set escape '^]'
  ecsterm config set record_dir ~/ecsterm-casts
  ecsterm config set alias.web admin@i-bp1eifrtpxa9tb0001
  ecsterm connect web
  ecsterm config unset alias.web
  ecsterm config -o json | jq -r .region.source`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return run(cmd, "list") },
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "Show every setting with its value and source (the default)",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return run(cmd, "list") },
	}
	get := &cobra.Command{
		Use:   "get <key>",
		Short: "Print one setting's value (alias.NAME for an alias, aliases for all of them)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Key = args[0]
			if opts.Key != "aliases" {
				if err := cfgpkg.CheckKey(opts.Key); err != nil {
					return &cmdutil.FlagError{Err: err}
				}
			}
			return run(cmd, "get")
		},
		ValidArgsFunction: completeKeys(f, true),
	}
	set := &cobra.Command{
		Use:   "set <key> <value>",
		Short: "Write a setting or an alias (alias.NAME TARGET) to the config file",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Key, opts.Value = args[0], args[1]
			if err := check(opts.Key, opts.Value); err != nil {
				return &cmdutil.FlagError{Err: err}
			}
			return run(cmd, "set")
		},
		ValidArgsFunction: completeSet(f),
	}
	unset := &cobra.Command{
		Use:   "unset <key>",
		Short: "Remove a setting or an alias from the config file",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Key = args[0]
			if err := cfgpkg.CheckKey(opts.Key); err != nil {
				return &cmdutil.FlagError{Err: err}
			}
			return run(cmd, "unset")
		},
		ValidArgsFunction: completeKeys(f, false),
	}
	path := &cobra.Command{
		Use:   "path",
		Short: "Print the config file's path (it may not exist yet)",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return run(cmd, "path") },
	}
	cmd.AddCommand(list, get, set, unset, path)
	return cmd
}

// configRun runs the subcommand opts.Sub names.
func configRun(_ context.Context, opts *Options) error {
	switch opts.Sub {
	case "list":
		return listRun(opts)
	case "get":
		return getRun(opts)
	case "set":
		return setRun(opts)
	case "unset":
		return unsetRun(opts)
	case "path":
		_, err := fmt.Fprintln(opts.IO.Out, opts.File)
		return err
	}
	return fmt.Errorf("config: no subcommand %q", opts.Sub)
}

// fileStore is the Store of the config file and the root's persistent flags.
type fileStore struct {
	flags *pflag.FlagSet
	given string // --config, or "" for the default file
}

func (s fileStore) Inspect() (*cfgpkg.Settings, error) { return cfgpkg.Inspect(s.flags, s.given) }
func (fileStore) Set(file, key, value string) error    { return cfgpkg.Set(file, key, value) }
func (fileStore) Unset(file, key string) error         { return cfgpkg.Unset(file, key) }

// storeFor reads the root's --config flag and persistent flags, which the factory's Config
// also reads: `ecsterm config` shows what every other command would use.
func storeFor(cmd *cobra.Command) (string, Store) {
	var file string
	if fl := cmd.Flag("config"); fl != nil {
		file = fl.Value.String()
	}
	given := file
	if file == "" {
		file = cfgpkg.DefaultFile()
	}
	return file, fileStore{flags: cmd.Root().PersistentFlags(), given: given}
}

// exactArgs is cobra.ExactArgs as a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return cmdutil.FlagErrorf("%s takes %d argument(s), not %d", cmd.CommandPath(), n, len(args))
		}
		return nil
	}
}

func listRun(opts *Options) error {
	s, err := opts.Store.Inspect()
	if err != nil {
		return err
	}
	if s.Config.Output == "json" {
		return writeJSON(opts.IO.Out, listJSON(s))
	}
	var rows [][3]string
	for _, key := range cfgpkg.Keys() {
		v, _ := s.Get(key)
		if aliases, ok := v.(map[string]string); ok {
			for _, name := range sorted(aliases) {
				rows = append(rows, [3]string{"alias." + name, aliases[name], s.Source(key)})
			}
			continue
		}
		rows = append(rows, [3]string{key, valueText(v), s.Source(key)})
	}
	ios := opts.IO
	var b bytes.Buffer
	w := io.Writer(&b)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	if ios.IsStdoutTTY() {
		w = tw
		fmt.Fprintln(w, "KEY\tVALUE\tSOURCE")
	}
	for _, r := range rows {
		for i := range r {
			if r[i] == "" {
				r[i] = "-"
			}
			r[i] = text.Escape(r[i])
		}
		fmt.Fprintln(w, strings.Join(r[:], "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err = ios.Out.Write(b.Bytes())
	return err
}

// record is one setting in -o json.
type record struct {
	Value  any    `json:"value"`
	Source string `json:"source"`
}

// listJSON is `config -o json`: one object, keyed by setting in display order, each with its
// value (a string, a bool, or for aliases an object of name → target) and source.
func listJSON(s *cfgpkg.Settings) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, key := range cfgpkg.Keys() {
		if i > 0 {
			b.WriteByte(',')
		}
		v, _ := s.Get(key)
		k, _ := json.Marshal(key)
		r, _ := json.Marshal(record{Value: v, Source: s.Source(key)})
		b.Write(k)
		b.WriteByte(':')
		b.Write(r)
	}
	b.WriteByte('}')
	return b.Bytes()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// valueText formats a value for the text output.
func valueText(v any) string {
	switch v := v.(type) {
	case bool:
		return strconv.FormatBool(v)
	case string:
		return v
	}
	return fmt.Sprint(v)
}

func sorted(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
