// Package cmdutil holds what every command shares: the Factory of lazily built dependencies and
// the typed errors that internal/cli maps to exit statuses.
package cmdutil

import (
	"log/slog"
	"sync"

	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/config"
	"github.com/ecsterm/ecsterm/internal/iostreams"
)

// Factory builds a command's dependencies on first use, so that a command that needs no API
// client never resolves credentials.
type Factory struct {
	IOStreams *iostreams.IOStreams
	Version   string
	// Config resolves settings; it is set by the root command once flags are parsed.
	Config func() (*config.Config, error)
	// Cloud returns the API client for the configured account and region.
	Cloud func() (*cloud.Client, error)
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
