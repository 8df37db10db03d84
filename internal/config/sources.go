package config

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"

	"github.com/ecsterm/ecsterm/pkg/term"
)

// keys are the settings in the order `ecsterm config` shows them. aliases is the one map.
var keys = []string{"profile", "region", "endpoint", "output", "quiet", "debug", "escape", "connection_type", "record_dir", "persist", "aliases"}

// flagKeys are the keys bound to the root command's persistent flags.
var flagKeys = []string{"profile", "region", "endpoint", "output", "quiet", "debug", "connection_type"}

// flagName is the persistent flag for a key: its name with '-' for '_'.
func flagName(key string) string { return strings.ReplaceAll(key, "_", "-") }

// ParseConnectionType accepts internet or intranet, in any case, and returns it in lower case.
// They choose the network of the WebSocket URL StartTerminalSession returns: intranet is for
// a client inside the instance's VPC with no way out to the internet.
func ParseConnectionType(s string) (string, error) {
	switch l := strings.ToLower(s); l {
	case "internet", "intranet":
		return l, nil
	}
	return "", fmt.Errorf("connection type %q is not internet or intranet", s)
}

// Keys returns the setting names in display order; aliases is a map of alias name to target.
func Keys() []string { return slices.Clone(keys) }

// Settings is every key's resolved value with where it came from: what `ecsterm config` shows,
// so that "why is my region that?" has an answer.
type Settings struct {
	Config *Config
	// File is the config file consulted (--config or DefaultFile); it may not exist.
	File    string
	sources map[string]string
}

// Source says where key's value came from: "flag", "env NAME", "file PATH", "profile NAME" (the
// region of an aliyun CLI profile), or "default". It is "" for an unknown key.
func (s *Settings) Source(key string) string { return s.sources[key] }

// Get returns key's value: a string, a bool for quiet and debug, a map[string]string for aliases.
func (s *Settings) Get(key string) (any, bool) {
	c := s.Config
	switch key {
	case "profile":
		return c.Profile, true
	case "region":
		return c.Region, true
	case "endpoint":
		return c.Endpoint, true
	case "output":
		return c.Output, true
	case "quiet":
		return c.Quiet, true
	case "debug":
		return c.Debug, true
	case "escape":
		return c.Escape(), true
	case "connection_type":
		return c.ConnectionType, true
	case "record_dir":
		return c.RecordDir, true
	case "persist":
		if c.Persist == 0 {
			return "", true
		}
		return c.Persist.String(), true
	case "aliases":
		return c.Aliases(), true
	}
	return nil, false
}

// source finds where viper took key from, with viper's own precedence: a flag the user set, the
// first non-empty environment variable, the file, the default.
func source(key string, flags *pflag.FlagSet, v *viper.Viper, file string) string {
	if slices.Contains(flagKeys, key) {
		if f := flags.Lookup(flagName(key)); f != nil && f.Changed {
			return "flag"
		}
	}
	for _, name := range env[key] {
		if os.Getenv(name) != "" {
			return "env " + name
		}
	}
	if file != "" && v.InConfig(key) {
		return "file " + file
	}
	return "default"
}

// readAliases reads the aliases map from the file directly: viper folds keys to lower case, and
// an alias name is the user's spelling.
func readAliases(file string) (map[string]string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", file, err)
	}
	var doc struct {
		Aliases map[string]string `yaml:"aliases"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("reading %s: aliases: %w", file, err)
	}
	for name, target := range doc.Aliases {
		if err := CheckAliasName(name); err != nil {
			return nil, fmt.Errorf("reading %s: %w", file, err)
		}
		if err := checkText("alias "+name, target); err != nil {
			return nil, fmt.Errorf("reading %s: %w", file, err)
		}
	}
	return doc.Aliases, nil
}

var aliasName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)

// CheckAliasName accepts a name a user can type where a target goes: letters, digits, '.', '_'
// and '-', not starting with '.' or '-'. It cannot hold '@' (user@), ':' (tag:, cp's
// target:path) or '*' (name patterns). Whether it would pass for an instance ID or IP address is
// the target package's to say.
func CheckAliasName(name string) error {
	if !aliasName.MatchString(name) {
		return fmt.Errorf("alias name %q: use letters, digits, '.', '_' and '-' (at most 128, not starting with '.' or '-')", name)
	}
	return nil
}

// checkEscape applies the -e flag's rules, so that a configured escape is one -e would take.
func checkEscape(s string) error {
	_, _, err := term.ParseEscapeChar(s)
	return err
}

// checkText refuses empty values, control characters and surrounding space: settings are
// single words or URLs, and a stray newline in one would be hard to see.
func checkText(what, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%s is empty", what)
	case strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return fmt.Errorf("%s %q contains control characters", what, s)
	case strings.TrimSpace(s) != s:
		return fmt.Errorf("%s %q has leading or trailing space", what, s)
	}
	return nil
}

// ErrNotSet is returned by Unset for a key or alias the file does not set.
var ErrNotSet = errors.New("not set in the config file")
