package cmdutil

import (
	"context"

	"github.com/ecsterm/ecsterm/internal/attach"
)

// Sessions is how commands reach an instance: a shell, one remote command through the exec
// exchange, or port channels. *attach.Attacher is the real one; tests of a command's run
// function hand it a fake, and --persist wraps it with warm sessions.
type Sessions interface {
	// Shell runs an interactive session until it ends.
	Shell(ctx context.Context, o attach.ShellOptions) error
	// Exec runs one command and returns its exit status; err is set only when there is none.
	Exec(ctx context.Context, o attach.ExecOptions) (int, error)
	// Ports opens port channels on one instance; Close ends the sessions it started.
	Ports(ctx context.Context, o attach.PortOptions) attach.PortOpener
}

var _ Sessions = (*attach.Attacher)(nil)
