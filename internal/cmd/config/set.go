package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/complete"
	cfgpkg "github.com/ecsterm/ecsterm/internal/config"
	"github.com/ecsterm/ecsterm/internal/target"
	"github.com/ecsterm/ecsterm/internal/text"
)

// aliasName returns NAME for a key alias.NAME (or aliases.NAME), and ok false for other keys.
func aliasName(key string) (name string, ok bool) {
	prefix, rest, found := strings.Cut(key, ".")
	if found && (strings.EqualFold(prefix, "alias") || strings.EqualFold(prefix, "aliases")) {
		return rest, true
	}
	return "", false
}

// check is everything set refuses before writing: the config package's rules, and the ones that
// belong to other packages (endpoint URLs, target syntax).
func check(key, value string) error {
	if err := cfgpkg.Check(key, value); err != nil {
		return err
	}
	if name, ok := aliasName(key); ok {
		if spec, err := target.Parse(name); err != nil || spec.Kind != target.KindName || spec.Wildcard() {
			return fmt.Errorf("alias %q would be read as an instance ID, IP address or pattern; choose a plain name", name)
		}
		if _, err := target.Parse(value); err != nil {
			return fmt.Errorf("alias %s: %w", name, err)
		}
		return nil
	}
	if strings.EqualFold(key, "endpoint") {
		if _, _, err := cloud.ParseEndpoint(value); err != nil {
			return err
		}
	}
	return nil
}

func getRun(opts *Options) error {
	s, err := opts.Store.Inspect()
	if err != nil {
		return err
	}
	key, value, source := strings.ToLower(opts.Key), any(nil), ""
	if name, ok := aliasName(opts.Key); ok {
		to, found := s.Config.Aliases()[name]
		if !found {
			return fmt.Errorf("alias %q is not set (ecsterm config lists the aliases)", name)
		}
		key, value, source = "alias."+name, to, s.Source("aliases")
	} else {
		value, _ = s.Get(key)
		source = s.Source(key)
	}
	if s.Config.Output == "json" {
		return writeJSON(opts.IO.Out, struct {
			Key    string `json:"key"`
			Value  any    `json:"value"`
			Source string `json:"source"`
		}{key, value, source})
	}
	var b strings.Builder
	if aliases, ok := value.(map[string]string); ok {
		for _, name := range sorted(aliases) {
			fmt.Fprintf(&b, "%s\t%s\n", text.Escape(name), text.Escape(aliases[name]))
		}
	} else {
		b.WriteString(text.Escape(valueText(value)) + "\n")
	}
	_, err = fmt.Fprint(opts.IO.Out, b.String())
	return err
}

func setRun(opts *Options) error {
	if err := opts.Store.Set(opts.File, opts.Key, opts.Value); err != nil {
		return err
	}
	if _, ok := aliasName(opts.Key); ok {
		return nil
	}
	// The file now says so, but a flag or variable may still win: say which, rather than let
	// the user wonder why nothing changed.
	key := strings.ToLower(opts.Key)
	s, err := opts.Store.Inspect()
	if err != nil || s.Config.Quiet {
		return err
	}
	if src := s.Source(key); !strings.HasPrefix(src, "file ") {
		fmt.Fprintf(opts.IO.ErrOut, "ecsterm: %s is set in %s, but %s overrides it\n", key, opts.File, src)
	}
	return nil
}

func unsetRun(opts *Options) error {
	err := opts.Store.Unset(opts.File, opts.Key)
	if errors.Is(err, cfgpkg.ErrNotSet) {
		return fmt.Errorf("%w (ecsterm config shows where each value comes from)", err)
	}
	return err
}

// completeKeys offers the keys get and unset take, with the configured aliases as alias.NAME.
func completeKeys(f *cmdutil.Factory, withAliases bool) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		for _, k := range cfgpkg.Keys() {
			if k != "aliases" || withAliases {
				out = append(out, k)
			}
		}
		if f.Config != nil {
			if cfg, err := f.Config(); err == nil {
				for _, name := range sorted(cfg.Aliases()) {
					out = append(out, "alias."+name)
				}
			}
		}
		return prefixed(out, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeSet offers set's keys, then values that fit the key: targets for an alias.
func completeSet(f *cmdutil.Factory) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	keys := completeKeys(f, false)
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		switch len(args) {
		case 0:
			out, dir := keys(cmd, args, toComplete)
			if strings.HasPrefix("alias.", toComplete) {
				out = append(out, "alias.")
			}
			if len(out) == 1 && out[0] == "alias." {
				dir |= cobra.ShellCompDirectiveNoSpace
			}
			return out, dir
		case 1:
			if _, ok := aliasName(args[0]); ok {
				return complete.TargetFlag(f)(cmd, nil, toComplete)
			}
			values := map[string][]string{
				"output":          {"text", "json"},
				"quiet":           {"true", "false"},
				"debug":           {"true", "false"},
				"escape":          {"~\tthe default", "^]\tas telnet", "none\tno escapes"},
				"connection_type": {"internet\tthe service's default", "intranet\tfrom inside the VPC"},
			}[strings.ToLower(args[0])]
			return prefixed(values, toComplete), cobra.ShellCompDirectiveNoFileComp
		}
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
}

func prefixed(values []string, prefix string) []string {
	var out []string
	for _, v := range values {
		if strings.HasPrefix(v, prefix) {
			out = append(out, v)
		}
	}
	return out
}
