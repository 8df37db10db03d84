// Package bench measures ecsterm as a whole process against the references on this machine:
// OpenSSH to a private sshd on loopback, and raw TCP. Figures are always taken in one run,
// side by side, and reported as medians with their spread and as ratios.
package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// SSHD is a private OpenSSH server on a free loopback port, with its own host key and a client
// key that it trusts, so that `ssh` can log in without touching the user's ~/.ssh.
type SSHD struct {
	Port int
	dir  string
	cmd  *exec.Cmd
}

// ErrNoSSHD is returned when OpenSSH's server is not installed.
var ErrNoSSHD = errors.New("OpenSSH server not found (Debian: apt-get install openssh-server)")

// StartSSHD starts the server; Close stops it.
func StartSSHD(ctx context.Context) (*SSHD, error) {
	bin, err := exec.LookPath("sshd")
	if err != nil {
		if _, e := os.Stat("/usr/sbin/sshd"); e != nil {
			return nil, ErrNoSSHD
		}
		bin = "/usr/sbin/sshd"
	}
	dir, err := os.MkdirTemp("", "ecsterm-sshd-")
	if err != nil {
		return nil, err
	}
	s := &SSHD{dir: dir}
	for _, key := range []string{"host_key", "client_key"} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, key)).CombinedOutput(); err != nil {
			s.Close()
			return nil, fmt.Errorf("ssh-keygen: %v: %s", err, out)
		}
	}
	pub, err := os.ReadFile(filepath.Join(dir, "client_key.pub"))
	if err != nil {
		s.Close()
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600); err != nil {
		s.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.Close()
		return nil, err
	}
	s.Port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	conf := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
AuthorizedKeysFile %s
PidFile %s
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AcceptEnv LANG
`, s.Port, filepath.Join(dir, "host_key"), filepath.Join(dir, "authorized_keys"), filepath.Join(dir, "sshd.pid"))
	if err := os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(conf), 0o600); err != nil {
		s.Close()
		return nil, err
	}
	// sshd insists on its privilege-separation directory.
	_ = os.MkdirAll("/run/sshd", 0o755)
	s.cmd = exec.CommandContext(ctx, bin, "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	s.cmd.Stderr = nil
	if err := s.cmd.Start(); err != nil {
		s.Close()
		return nil, err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(s.Port))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			s.Close()
			return nil, fmt.Errorf("sshd did not start listening on %d", s.Port)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s, nil
}

// SSHArgs returns the ssh arguments that log in to this server (add the remote command).
func (s *SSHD) SSHArgs(extra ...string) []string {
	args := []string{"-F", "/dev/null", "-i", filepath.Join(s.dir, "client_key"), "-p", strconv.Itoa(s.Port),
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
		"-o", "BatchMode=yes"}
	return append(append(args, extra...), "root@127.0.0.1")
}

// Close stops the server and removes its files.
func (s *SSHD) Close() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
	os.RemoveAll(s.dir)
}
