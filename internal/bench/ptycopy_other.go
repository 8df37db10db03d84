//go:build !unix

package bench

import (
	"errors"
	"time"
)

// PTYCopy needs a Unix PTY.
func PTYCopy(string) (time.Duration, int64, error) {
	return 0, 0, errors.New("no PTY on this system")
}
