package ssh

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ecsterm/ecsterm/internal/attach"
	"github.com/ecsterm/ecsterm/internal/text"
)

// maxReport bounds what is read of a script's stdout (host keys are a few lines of at most
// maxHostKeyLine), maxStderr its stderr.
const (
	maxReport = 64 << 10
	maxStderr = 2 << 10
)

// exec runs script on the instance as the login user, without a terminal, and returns its
// status and bounded stdout and stderr.
func (c *conn) exec(ctx context.Context, script string) (int, []byte, []byte, error) {
	out, errb := &limited{n: maxReport}, &limited{n: maxStderr}
	status, err := c.sessions.Exec(ctx, attach.ExecOptions{
		Target:  attach.Target{InstanceID: c.id, Username: c.opts.User},
		Streams: attach.Streams{Stdout: out, Stderr: errb},
		Command: script,
	})
	if errors.Is(err, attach.ErrWindows) {
		return 0, nil, nil, fmt.Errorf("%s runs Windows: ecsterm ssh needs a Linux instance with an SSH server; use `ecsterm connect %s` for a shell", c.id, c.id)
	}
	return status, out.b, errb.b, err
}

// install checks the instance's SSH server, reads its host keys and installs pub. installed
// reports whether the key may be on the instance (then it must be removed), also when err is
// not nil.
func (c *conn) install(ctx context.Context, pub string) (rep report, installed bool, err error) {
	expiry := time.Now().Add(keyTTL).UTC().Format("20060102150405") + "Z"
	status, out, stderr, err := c.exec(ctx, installScript(pub, c.keyID, c.opts.Port, keyTTL, expiry))
	if err != nil {
		return rep, true, fmt.Errorf("installing the connection's key on %s: %w", c.id, err)
	}
	rep = parseReport(out)
	switch status {
	case 0:
	case exitNoUser, exitNoHostKeys, exitNotListened, exitNoHome:
		return rep, false, c.errorFor(status, stderr)
	default:
		return rep, true, c.errorFor(status, stderr)
	}
	switch {
	case !rep.Installed:
		return rep, true, fmt.Errorf("installing the connection's key on %s: the script did not finish", c.id)
	case rep.User == "":
		return rep, true, fmt.Errorf("%s: the session's user name is not one ssh can log in as", c.id)
	case c.opts.User != "" && rep.User != c.opts.User:
		// The key went into the wrong home; it is removed on return.
		return rep, true, fmt.Errorf("%s: the session ran as %s, not %s: ecsterm will not log in as another user than the key was installed for", c.id, rep.User, c.opts.User)
	case len(rep.HostKeys) == 0:
		return rep, true, fmt.Errorf("%s: none of the %d host keys in /etc/ssh is an OpenSSH public key ecsterm accepts", c.id, rep.Rejected)
	}
	return rep, true, nil
}

// errorFor explains a script's failure.
func (c *conn) errorFor(status int, stderr []byte) error {
	switch status {
	case exitNoUser:
		return fmt.Errorf("%s: id -un failed in the session: ecsterm cannot tell whom to log in as", c.id)
	case exitNoHostKeys:
		return fmt.Errorf("%s has no SSH host keys in /etc/ssh: is OpenSSH's server installed? (Debian/Ubuntu: apt-get install openssh-server); `ecsterm connect %s` needs no sshd", c.id, c.id)
	case exitNotListened:
		return fmt.Errorf("%s: nothing listens on port %d: is sshd running? (systemctl start ssh, or sshd); `ecsterm connect %s` needs no sshd", c.id, c.opts.Port, c.id)
	case exitNoHome:
		return fmt.Errorf("%s: the session's user has no home directory for ~/.ssh/authorized_keys", c.id)
	case exitEdit:
		return fmt.Errorf("%s: could not update ~/.ssh/authorized_keys (permissions, a full disk, or it kept changing)", c.id)
	}
	msg := strings.TrimSpace(string(stderr))
	if msg == "" {
		return fmt.Errorf("%s: the key script failed with status %d", c.id, status)
	}
	return fmt.Errorf("%s: the key script failed with status %d: %s", c.id, status, text.OneLine(msg))
}

// removal removes the connection's key from the instance once, however many call it.
type removal struct {
	once sync.Once
	done chan struct{}
	err  error
}

// removeNow removes the key (and expired ones) and waits until that is done. It runs even when
// ctx is cancelled: an interrupted ecsterm must still take its key away.
func (c *conn) removeNow(ctx context.Context) error {
	r := c.removal()
	r.once.Do(func() {
		defer close(r.done)
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), removeAfter)
		defer cancel()
		status, out, stderr, err := c.exec(rctx, removeScript(c.keyID))
		switch {
		case err != nil:
		case status != 0 || !strings.Contains(string(out), "removed"):
			err = c.errorFor(status, stderr)
		}
		if err != nil {
			r.err = err
			c.warn(fmt.Sprintf("could not remove the connection's key from %s (it expires within %s): %v", c.id, keyTTL, err))
		} else {
			c.log.Debug("connection key removed", "instance", c.id)
		}
	})
	<-r.done
	return r.err
}

func (c *conn) removal() *removal {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rm == nil {
		c.rm = &removal{done: make(chan struct{})}
	}
	return c.rm
}

// warn prints one line on stderr; while ssh has the terminal raw, the line ends as it would.
func (c *conn) warn(msg string) {
	eol := "\n"
	if c.opts.IO.IsStderrTTY() {
		eol = "\r\n"
	}
	fmt.Fprintf(c.opts.IO.ErrOut, "ecsterm: %s%s", text.OneLine(msg), eol)
}

// knownHostsLines is a known_hosts file for alias holding exactly keys.
func knownHostsLines(alias string, keys []string) string {
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(alias + " " + k + "\n")
	}
	return b.String()
}

// shQuote returns s as one single-quoted sh word.
func shQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// proxyCommand is argv as the start of a ProxyCommand: each word quoted for the shell ssh runs
// it with, and % doubled so that ssh takes none of it for a token. The caller adds %p.
func proxyCommand(argv []string) string {
	words := make([]string, len(argv))
	for i, a := range argv {
		words[i] = shQuote(strings.ReplaceAll(a, "%", "%%"))
	}
	return strings.Join(words, " ")
}

// sshConfigQuote writes a path as an ssh_config value: % doubled (ssh expands tokens in file
// options), in double quotes when it has a space.
func sshConfigQuote(path string) string {
	path = strings.ReplaceAll(path, "%", "%%")
	if strings.ContainsAny(path, " \t") {
		return `"` + path + `"`
	}
	return path
}
