package cmdutil

import (
	"errors"
	"fmt"
)

// Exit statuses, as ssh uses them.
const (
	ExitOK        = 0
	ExitUsage     = 2
	ExitInterrupt = 130
	ExitFailure   = 255 // ecsterm itself failed: API error, connection lost, instance not ready
)

// FlagError is a usage error: bad flags or arguments. It exits 2 and prints usage help.
type FlagError struct{ Err error }

func (e *FlagError) Error() string { return e.Err.Error() }
func (e *FlagError) Unwrap() error { return e.Err }

// FlagErrorf builds a FlagError.
func FlagErrorf(format string, args ...any) error {
	return &FlagError{Err: fmt.Errorf(format, args...)}
}

// ExitError carries a status to exit with and nothing to print: the remote command's status, or
// a failure already reported.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// ErrSilent ends a command with status 255 after it has printed its own message.
var ErrSilent = errors.New("silent error")
