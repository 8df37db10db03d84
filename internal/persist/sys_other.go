//go:build !linux && !darwin

package persist

import (
	"net"
	"os"
	"os/exec"
)

// Supported says whether --persist works here: it needs Unix sockets and a way to learn a
// connection's peer user, which this system does not give ecsterm.
const Supported = false

func checkPrivate(string) error         { return ErrUnsupported }
func checkPeer(*net.UnixConn) error     { return ErrUnsupported }
func lockFile(string) (*os.File, error) { return nil, ErrUnsupported }
func detach(*exec.Cmd)                  {}
