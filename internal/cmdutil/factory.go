// Package cmdutil holds what every command shares: the Factory of lazily built dependencies,
// the Sessions seam through which commands reach instances, and the typed errors that
// internal/cli maps to exit statuses.
package cmdutil

import (
	"log/slog"
	"sync"

	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/config"
	"github.com/ecsterm/ecsterm/internal/iostreams"
	"github.com/ecsterm/ecsterm/internal/timing"
)

// Factory builds a command's dependencies on first use, so that a command that needs no API
// client never resolves credentials. internal/cli builds the one Factory of a process.
type Factory struct {
	IOStreams *iostreams.IOStreams
	Version   string
	// Timing hears when each step of opening a session happens (--timing); nil hears nothing.
	Timing *timing.Recorder
	// Config resolves settings from flags, environment and the config file.
	Config func() (*config.Config, error)
	// Cloud returns the API client for the configured account and region.
	Cloud func() (*cloud.Client, error)
	// Sessions returns the seam that opens shells, exec exchanges and port channels, built on
	// Cloud.
	Sessions func() (Sessions, error)
	// Logger is the diagnostics logger (stderr; level from --debug / -q).
	Logger func() *slog.Logger
}

// Once wraps a constructor so that it runs at most once.
func Once[T any](fn func() (T, error)) func() (T, error) {
	var (
		once sync.Once
		v    T
		err  error
	)
	return func() (T, error) {
		once.Do(func() { v, err = fn() })
		return v, err
	}
}
