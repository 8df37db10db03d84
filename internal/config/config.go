// Package config is the only importer of viper. It resolves ecsterm's settings with one
// precedence, flags > environment > config file > defaults, and for the region falls back to the
// selected aliyun CLI profile's region_id; Inspect also says where each value came from. Set and
// Unset edit the config file, and WritePrivate writes every file ecsterm keeps for the user.
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// Config is ecsterm's resolved settings.
type Config struct {
	Profile  string
	Region   string
	Endpoint string
	Output   string // text or json
	Quiet    bool
	Debug    bool
	// ConnectionType is the network the session WebSocket URL is for: "internet", "intranet",
	// or "" to leave it to the service (which means internet).
	ConnectionType string
	// RecordDir, when set, is where connect and exec -t record every session (asciicast files).
	RecordDir string
	// PasswordName is --password-name: Windows instances' password for the session's user, by
	// the name Cloud Assistant keeps it under. A flag only: it goes with a user given per
	// command, so neither the file nor the environment sets it.
	PasswordName string
	// Persist is how long exec and cp keep warm sessions for the next command on the same
	// instance (--persist, ECSTERM_PERSIST, persist); zero keeps none.
	Persist time.Duration
	// File is the config file that was read, if any.
	File string

	// escape and aliases are read through Escape and Aliases, whose zero values mean "not
	// configured": a Config still compares with ==, and one built by a test means the defaults.
	escape  string
	aliases *map[string]string
}

// DefaultEscape is the escape character when none is configured, as in OpenSSH.
const DefaultEscape = "~"

// Escape is the configured escape character for sessions (one character, ^X, or none), or
// DefaultEscape. A command's -e flag overrides it.
func (c *Config) Escape() string {
	if c.escape == "" {
		return DefaultEscape
	}
	return c.escape
}

// Aliases returns a copy of the configured target aliases (name → target); it is never nil.
// target.ExpandAlias applies them to what a user typed.
func (c *Config) Aliases() map[string]string {
	out := map[string]string{}
	if c.aliases != nil {
		for k, v := range *c.aliases {
			out[k] = v
		}
	}
	return out
}

// env lists the environment variables for each key, first match wins. The Alibaba Cloud names
// come first; ECSTERM_* are ecsterm's own.
var env = map[string][]string{
	"profile":  {"ALIBABA_CLOUD_PROFILE", "ALIBABACLOUD_PROFILE", "ALICLOUD_PROFILE"},
	"region":   {"ALIBABA_CLOUD_REGION_ID", "ALIBABACLOUD_REGION_ID", "ALICLOUD_REGION_ID", "ECSTERM_REGION"},
	"endpoint": {"ECSTERM_ENDPOINT"},
	"output":   {"ECSTERM_OUTPUT"},
	"escape":   {"ECSTERM_ESCAPE"},
	// connection_type has no Alibaba Cloud variable: StartTerminalSession is its only user.
	"connection_type": {"ECSTERM_CONNECTION_TYPE"},
	"record_dir":      {"ECSTERM_RECORD_DIR"},
	"persist":         {"ECSTERM_PERSIST"},
}

// ErrInvalid is wrapped by every error about a setting's value, so that a caller can tell a
// bad flag, variable or config entry (a usage error) from a file it could not read.
var ErrInvalid = errors.New("invalid setting")

// invalid wraps err in ErrInvalid without changing its text.
type invalid struct{ err error }

func (e *invalid) Error() string        { return e.err.Error() }
func (e *invalid) Unwrap() []error      { return []error{e.err, ErrInvalid} }
func invalidf(f string, a ...any) error { return &invalid{fmt.Errorf(f, a...)} }

// Load resolves the settings. flags are the root command's persistent flags (bound by name:
// profile, region, endpoint, output, quiet, debug, connection-type). configFile overrides the default location
// ($XDG_CONFIG_HOME/ecsterm/config.yaml or the OS equivalent); a missing file is not an error.
func Load(flags *pflag.FlagSet, configFile string) (*Config, error) {
	s, err := Inspect(flags, configFile)
	if err != nil {
		return nil, err
	}
	return s.Config, nil
}

// Inspect resolves the settings exactly as Load does (viper for the precedence, then the region
// fallback and validation) and keeps where each value came from.
func Inspect(flags *pflag.FlagSet, configFile string) (*Settings, error) {
	v := viper.New()
	v.SetDefault("output", "text")
	for key, names := range env {
		if err := v.BindEnv(append([]string{key}, names...)...); err != nil {
			return nil, err
		}
	}
	for _, name := range flagKeys {
		if f := flags.Lookup(flagName(name)); f != nil {
			if err := v.BindPFlag(name, f); err != nil {
				return nil, err
			}
		}
	}
	if configFile == "" {
		configFile = DefaultFile()
	}
	cfg := &Config{}
	s := &Settings{Config: cfg, File: configFile, sources: map[string]string{}}
	if configFile != "" {
		v.SetConfigFile(configFile)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err == nil {
			cfg.File = configFile
		} else if !errors.Is(err, fs.ErrNotExist) {
			var nf viper.ConfigFileNotFoundError
			if !errors.As(err, &nf) {
				return nil, fmt.Errorf("reading %s: %w", configFile, err)
			}
		}
	}
	for _, key := range keys {
		s.sources[key] = source(key, flags, v, cfg.File)
	}
	cfg.Profile = v.GetString("profile")
	cfg.Region = v.GetString("region")
	cfg.Endpoint = v.GetString("endpoint")
	cfg.Output = v.GetString("output")
	cfg.Quiet = v.GetBool("quiet")
	cfg.Debug = v.GetBool("debug")
	cfg.escape = v.GetString("escape")
	if f := flags.Lookup("password-name"); f != nil {
		cfg.PasswordName = f.Value.String()
	}
	cfg.RecordDir = v.GetString("record_dir")
	if cfg.Output != "text" && cfg.Output != "json" {
		return nil, invalidf("output format %q is not text or json (%s)", cfg.Output, s.sources["output"])
	}
	if cfg.escape != "" {
		if err := checkEscape(cfg.escape); err != nil {
			return nil, invalidf("%w (%s)", err, s.sources["escape"])
		}
	}
	if ct := v.GetString("connection_type"); ct != "" {
		var err error
		if cfg.ConnectionType, err = ParseConnectionType(ct); err != nil {
			return nil, invalidf("%w (%s)", err, s.sources["connection_type"])
		}
	}
	if p := v.GetString("persist"); p != "" {
		var err error
		if cfg.Persist, err = ParsePersist(p); err != nil {
			return nil, invalidf("%w (%s)", err, s.sources["persist"])
		}
	}
	if cfg.File != "" {
		aliases, err := readAliases(cfg.File)
		if err != nil {
			return nil, err
		}
		if len(aliases) > 0 {
			cfg.aliases = &aliases
		}
	}
	if cfg.Region == "" {
		if region, name := profileRegion(cfg.Profile); region != "" {
			cfg.Region = region
			s.sources["region"] = "profile " + name
		}
	}
	return s, nil
}

// DefaultFile is where ecsterm's config file lives.
func DefaultFile() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "ecsterm", "config.yaml")
}

// profileRegion reads region_id of the named (or current) profile in the aliyun CLI's
// config.json, which credentials-go reads for the keys but never for the region. It returns the
// region and the profile it came from.
func profileRegion(name string) (region, profile string) {
	file := os.Getenv("ALIBABA_CLOUD_CONFIG_FILE")
	if file == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", ""
		}
		file = filepath.Join(home, ".aliyun", "config.json")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", ""
	}
	var conf struct {
		Current  string `json:"current"`
		Profiles []struct {
			Name     string `json:"name"`
			RegionID string `json:"region_id"`
		} `json:"profiles"`
	}
	if json.Unmarshal(b, &conf) != nil {
		return "", ""
	}
	if name == "" {
		name = conf.Current
	}
	for _, p := range conf.Profiles {
		if p.Name == name {
			return p.RegionID, name
		}
	}
	return "", ""
}

// ParsePersist reads a --persist value: a duration such as 60s or 10m, or 0, no or off for
// none, as ssh's ControlPersist takes no.
func ParsePersist(s string) (time.Duration, error) {
	switch s {
	case "", "0", "no", "off":
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("persist %q is not a duration such as 60s or 10m, nor 0, no or off", s)
	}
	return d, nil
}
