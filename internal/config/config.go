// Package config is the only importer of viper. It resolves ecsterm's settings with one
// precedence, flags > environment > config file > defaults, and for the region falls back to the
// selected aliyun CLI profile's region_id.
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

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
	// File is the config file that was read, if any.
	File string
}

// env lists the environment variables for each key, first match wins. The Alibaba Cloud names
// come first; ECSTERM_* are ecsterm's own.
var env = map[string][]string{
	"profile":  {"ALIBABA_CLOUD_PROFILE", "ALIBABACLOUD_PROFILE", "ALICLOUD_PROFILE"},
	"region":   {"ALIBABA_CLOUD_REGION_ID", "ALIBABACLOUD_REGION_ID", "ALICLOUD_REGION_ID", "ECSTERM_REGION"},
	"endpoint": {"ECSTERM_ENDPOINT"},
	"output":   {"ECSTERM_OUTPUT"},
}

// Load resolves the settings. flags are the root command's persistent flags (bound by name:
// profile, region, endpoint, output, quiet, debug). configFile overrides the default location
// ($XDG_CONFIG_HOME/ecsterm/config.yaml or the OS equivalent); a missing file is not an error.
func Load(flags *pflag.FlagSet, configFile string) (*Config, error) {
	v := viper.New()
	v.SetDefault("output", "text")
	for key, names := range env {
		if err := v.BindEnv(append([]string{key}, names...)...); err != nil {
			return nil, err
		}
	}
	for _, name := range []string{"profile", "region", "endpoint", "output", "quiet", "debug"} {
		if f := flags.Lookup(name); f != nil {
			if err := v.BindPFlag(name, f); err != nil {
				return nil, err
			}
		}
	}
	if configFile == "" {
		configFile = DefaultFile()
	}
	cfg := &Config{}
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
	cfg.Profile = v.GetString("profile")
	cfg.Region = v.GetString("region")
	cfg.Endpoint = v.GetString("endpoint")
	cfg.Output = v.GetString("output")
	cfg.Quiet = v.GetBool("quiet")
	cfg.Debug = v.GetBool("debug")
	if cfg.Output != "text" && cfg.Output != "json" {
		return nil, fmt.Errorf("output format %q is not text or json", cfg.Output)
	}
	if cfg.Region == "" {
		cfg.Region = profileRegion(cfg.Profile)
	}
	return cfg, nil
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
// config.json, which credentials-go reads for the keys but never for the region.
func profileRegion(name string) string {
	file := os.Getenv("ALIBABA_CLOUD_CONFIG_FILE")
	if file == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		file = filepath.Join(home, ".aliyun", "config.json")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return ""
	}
	var conf struct {
		Current  string `json:"current"`
		Profiles []struct {
			Name     string `json:"name"`
			RegionID string `json:"region_id"`
		} `json:"profiles"`
	}
	if json.Unmarshal(b, &conf) != nil {
		return ""
	}
	if name == "" {
		name = conf.Current
	}
	for _, p := range conf.Profiles {
		if p.Name == name {
			return p.RegionID
		}
	}
	return ""
}
