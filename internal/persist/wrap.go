package persist

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ecsterm/ecsterm/internal/attach"
	"github.com/ecsterm/ecsterm/internal/config"
)

// Sessions is the seam commands reach instances through (internal/cmdutil's Sessions,
// declared again here where it is wrapped).
type Sessions interface {
	Shell(ctx context.Context, o attach.ShellOptions) error
	Exec(ctx context.Context, o attach.ExecOptions) (int, error)
	Ports(ctx context.Context, o attach.PortOptions) attach.PortOpener
}

// Settings are what --persist needs beyond each command: how long a holder waits for the next
// command, and the account its sessions use, passed on to the holder it starts.
type Settings struct {
	Idle           time.Duration
	Endpoint       string
	Region         string
	Profile        string
	ConnectionType string
	// ConfigFile is the config file the command read, if any; the holder reads it too.
	ConfigFile string
	// Debug makes the holder log to <its socket name>.log in the sockets' directory.
	Debug  bool
	Logger *slog.Logger
}

// FlagUsage is the help of exec's and cp's --persist flag.
const FlagUsage = "keep warm sessions on the instance for this long after the last command, so the next exec or cp starts at once, as ssh's ControlPersist (e.g. 10m; env ECSTERM_PERSIST, config persist; 0 or no: none)"

// Idle is how long a command keeps warm sessions: its --persist flag's value when given (flag
// is not ""), else the configured persist (ECSTERM_PERSIST or the config file); cfg may be nil.
// Where --persist is not supported, any other value than none is ErrUnsupported.
func Idle(flag string, cfg *config.Config) (time.Duration, error) {
	d := time.Duration(0)
	if flag != "" {
		var err error
		if d, err = config.ParsePersist(flag); err != nil {
			return 0, err
		}
	} else if cfg != nil {
		d = cfg.Persist
	}
	if d > 0 && !Supported {
		return 0, ErrUnsupported
	}
	return d, nil
}

// SettingsFrom are the settings for a command of cfg's account that keeps sessions for idle
// (--persist, or cfg.Persist).
func SettingsFrom(cfg *config.Config, idle time.Duration, log *slog.Logger) Settings {
	if cfg == nil {
		return Settings{Idle: idle, Logger: log}
	}
	return Settings{Idle: idle, Endpoint: cfg.Endpoint, Region: cfg.Region, Profile: cfg.Profile,
		ConnectionType: cfg.ConnectionType, ConfigFile: cfg.File, Debug: cfg.Debug, Logger: log}
}

// Wrap returns cold with Exec running commands on warm sessions when s.Idle is set. What
// cannot run warm runs cold: a command with a terminal, one on a system without Unix sockets,
// and one that finds no warm session free (ErrCold).
func Wrap(cold Sessions, s Settings) Sessions {
	if s.Idle <= 0 {
		return cold
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	w := &warmSessions{Sessions: cold, s: s}
	w.start = w.spawn
	return w
}

type warmSessions struct {
	Sessions
	s Settings
	// start starts a holder for key with its socket in dir; tests start one in the process.
	start func(dir string, key Key) (<-chan error, error)
}

func (w *warmSessions) key(o attach.ExecOptions) Key {
	return Key{Endpoint: w.s.Endpoint, Region: w.s.Region, Profile: w.s.Profile, ConnectionType: w.s.ConnectionType,
		InstanceID: o.InstanceID, User: o.Username}
}

// Exec runs o on a warm session of the instance's holder, starting the holder if none runs.
func (w *warmSessions) Exec(ctx context.Context, o attach.ExecOptions) (int, error) {
	if o.TTY || !Supported {
		return w.Sessions.Exec(ctx, o)
	}
	dir, err := Dir()
	if err != nil {
		return 0, fmt.Errorf("--persist: %w", err)
	}
	key := w.key(o)
	c := &Client{Key: key, Dir: dir, Logger: w.s.Logger, Start: func() (<-chan error, error) { return w.start(dir, key) }}
	st, err := c.Exec(ctx, Request{Command: o.Command, Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr})
	if errors.Is(err, ErrCold) {
		w.s.Logger.Debug("running the command cold", "why", err)
		return w.Sessions.Exec(ctx, o)
	}
	if err != nil && ctx.Err() == nil {
		return 0, fmt.Errorf("%s: %w", o.InstanceID, err)
	}
	return st, err
}

// spawn starts `ecsterm persist serve` for key in the background.
func (w *warmSessions) spawn(dir string, key Key) (<-chan error, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	log := ""
	if w.s.Debug {
		log = filepath.Join(dir, key.name()+".log")
	}
	return Spawn(exe, ServeArgs(w.s, key), log)
}

// ServeArgs are the arguments of the hidden `ecsterm persist serve` for key: the settings that
// choose the account, so that the holder's key is the one its clients compute.
func ServeArgs(s Settings, key Key) []string {
	args := []string{"persist", "serve", "--idle", s.Idle.String()}
	for _, f := range []struct{ name, value string }{
		{"endpoint", key.Endpoint}, {"region", key.Region}, {"profile", key.Profile},
		{"connection-type", key.ConnectionType}, {"config", s.ConfigFile}, {"user", key.User},
	} {
		if f.value != "" {
			args = append(args, "--"+f.name+"="+f.value)
		}
	}
	if s.Debug {
		args = append(args, "--debug")
	}
	return append(args, "--", strings.TrimSpace(key.InstanceID))
}
