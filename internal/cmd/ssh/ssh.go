// Package ssh implements `ecsterm ssh` and `ecsterm ssh-config`: OpenSSH through `ecsterm proxy`,
// with no key of the user's on the instance and no host key to trust blindly. `ecsterm ssh`
// installs an ed25519 key made for one connection through an exec session, reads the instance's
// host keys through the same session and pins them, runs the local ssh, and removes the key as
// soon as ssh has logged in.
package ssh

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/complete"
	"github.com/ecsterm/ecsterm/internal/iostreams"
	"github.com/ecsterm/ecsterm/internal/target"
	"github.com/ecsterm/ecsterm/internal/target/picker"
	"github.com/ecsterm/ecsterm/internal/text"
)

// keyTTL is how long the connection's key is valid on the instance (its expiry-time option),
// should ecsterm fail to remove it. removeAfter is the latest ecsterm removes it itself, when it
// cannot tell that ssh has logged in. The command's help says both in words.
const (
	keyTTL      = 3 * time.Minute
	removeAfter = 60 * time.Second
)

// API is what ssh and ssh-config need of the cloud client: listing instances, to resolve
// targets (and, for ssh-config, to name the instances given by ID). *cloud.Client is the real
// one.
type API interface {
	target.Lister
}

var _ API = (*cloud.Client)(nil)

// Options are everything sshRun needs: flags and arguments, the logger, the API that resolves
// the target, and the seam that reaches the instance.
type Options struct {
	IO     *iostreams.IOStreams
	Logger *slog.Logger // nil discards
	// API and Sessions are called only once there is an ssh to run, so that a machine without
	// OpenSSH is told so, not asked for credentials.
	API      func() (API, error)
	Sessions func() (cmdutil.Sessions, error)

	Spec    target.Spec
	User    string // -l, or the user@ of the target; "" is the session's default user
	Port    int
	SSHArgs []string // after --: to ssh, unchanged
	// Globals are the global flags given to ecsterm, passed on to the ProxyCommand so that it
	// reaches the same account, region and endpoint.
	Globals []string
}

// NewCmdSSH builds the command. runF replaces sshRun in tests of argument parsing.
func NewCmdSSH(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	if runF == nil {
		runF = sshRun
	}
	cmd := &cobra.Command{
		Use:   "ssh [-l user] [-p port] [user@]<instance> [-- ssh-args... [command]]",
		Short: "OpenSSH to an instance with a key made for this connection and pinned host keys",
		Long: `Log in with OpenSSH's ssh through 'ecsterm proxy', with nothing to set up: no key of yours
on the instance and no "authenticity of host can't be established" question.

Through one exec session as the login user, ecsterm appends a new ed25519 public key to that
user's ~/.ssh/authorized_keys (creating ~/.ssh 0700 and the file 0600 if needed), with an
expiry-time option 3 minutes ahead and the comment ecsterm-ephemeral-<id>-<expiry>,
and reads the instance's host keys from /etc/ssh/ssh_host_*_key.pub. Then it runs ssh with that
key (private, 0600, in a temporary directory removed afterwards) and a known-hosts file
holding exactly those host keys (StrictHostKeyChecking yes). The key is removed from the
instance as soon as ssh has logged in, at the latest after 60 s, and when ssh ends or
ecsterm is interrupted; any of ecsterm's keys left expired by an earlier run goes too. The host
keys are also kept in ecsterm's known_hosts file for 'ecsterm ssh-config'.

Without -l, the login user is the session's default user (the agent's, as for connect).
Arguments after -- go to ssh unchanged (-L, -A, -t, a remote command); ssh's exit status is
ecsterm's. The instance needs an SSH server (sshd) listening on the port and Linux; for Windows
instances use 'ecsterm connect'.`,
		Example: `  ecsterm ssh i-bp1eifrtpxa9tb0001
  ecsterm ssh -l admin web-01 -- uptime
  ecsterm ssh root@web-01 -- -L 8080:localhost:80 -N
  ecsterm ssh -p 2222 web-01 -- -t htop`,
		Args: func(cmd *cobra.Command, args []string) error {
			before := cmd.ArgsLenAtDash()
			if before < 0 {
				before = len(args)
			}
			if before != 1 {
				return cmdutil.FlagErrorf("want one instance before --, got %d arguments (ssh's own arguments and the command go after --)", before)
			}
			return nil
		},
		ValidArgsFunction: complete.Targets(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec, err := target.Parse(cmdutil.ExpandAlias(f, args[0]))
			if err != nil {
				return &cmdutil.FlagError{Err: err}
			}
			if opts.User == "" {
				opts.User = spec.User
			}
			if opts.User != "" && !userRe.MatchString(opts.User) {
				return cmdutil.FlagErrorf("user %q is not a login name ssh and authorized_keys can take", opts.User)
			}
			if opts.Port < 1 || opts.Port > 65535 {
				return cmdutil.FlagErrorf("-p %d: not a port number (1-65535)", opts.Port)
			}
			spec.User = ""
			opts.Spec, opts.SSHArgs = spec, args[1:]
			opts.Globals = globalFlags(cmd.Flags())
			if f.Logger != nil {
				opts.Logger = f.Logger()
			}
			opts.API = func() (API, error) { return f.Cloud() }
			opts.Sessions = f.Sessions
			return runF(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.User, "user", "l", "", "the user to log in as (default: the session's default user)")
	cmd.Flags().IntVarP(&opts.Port, "port", "p", 22, "the instance's SSH port")
	return cmd
}

// proxyGlobals are the global flags that decide which account, region and endpoint a session
// goes to.
var proxyGlobals = []string{"config", "profile", "region", "endpoint", "connection-type"}

// globalFlags returns the proxy globals given on this command line, as arguments.
func globalFlags(fl *pflag.FlagSet) []string {
	var out []string
	for _, name := range proxyGlobals {
		if fg := fl.Lookup(name); fg != nil && fg.Changed {
			out = append(out, "--"+name+"="+fg.Value.String())
		}
	}
	return out
}

// idRe is the shape of an instance ID as it may go into a command line ssh runs.
var idRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,63}$`)

// ErrNoSSH is returned when there is no ssh to run.
var ErrNoSSH = errors.New("no ssh on PATH: install OpenSSH's client (Debian/Ubuntu: apt-get install openssh-client; Windows: the OpenSSH Client optional feature), or use `ecsterm connect` for a shell")

// sshRun resolves the target, installs the connection's key through opts.Sessions, and runs
// ssh.
func sshRun(ctx context.Context, opts *Options) error {
	sshBin, err := exec.LookPath("ssh")
	if err != nil {
		return ErrNoSSH
	}
	api, err := opts.API()
	if err != nil {
		return err
	}
	inst, err := target.One(ctx, api, opts.Spec, picker.For(opts.IO))
	if err != nil {
		return err
	}
	if !idRe.MatchString(inst.ID) {
		return fmt.Errorf("the service returned an instance ID ecsterm will not put on a command line: %s", text.OneLine(inst.ID))
	}
	dir, err := os.MkdirTemp("", "ecsterm-ssh-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	sessions, err := opts.Sessions()
	if err != nil {
		return err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &conn{opts: opts, sessions: sessions, log: log, id: inst.ID, dir: dir}
	return c.run(ctx, sshBin)
}

// conn is one `ecsterm ssh` connection.
type conn struct {
	opts     *Options
	sessions cmdutil.Sessions
	log      *slog.Logger
	id       string // instance ID
	dir      string // private: the key and the known-hosts file
	keyID    string

	mu sync.Mutex
	rm *removal
}

func (c *conn) run(ctx context.Context, sshBin string) error {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	c.keyID = hex.EncodeToString(b)
	key, err := newKeyPair("ecsterm-ephemeral-" + c.keyID)
	if err != nil {
		return err
	}
	keyFile := filepath.Join(c.dir, "id_ed25519")
	if err := writeNew(keyFile, key.private); err != nil {
		return err
	}
	rep, installed, err := c.install(ctx, key.public)
	if installed {
		defer c.removeNow(ctx) // a no-op once removed; here for every return below
	}
	if err != nil {
		return err
	}
	known := filepath.Join(c.dir, "known_hosts")
	if err := writeNew(known, []byte(knownHostsLines(c.id, rep.HostKeys))); err != nil {
		return err
	}
	if file, err := pinnedFile(); err == nil {
		if err := pin(file, c.id, rep.HostKeys); err != nil {
			c.log.Warn("could not keep the host keys for ssh-config", "file", file, "err", err)
		}
	}
	args, err := c.sshArgs(keyFile, known, rep.User)
	if err != nil {
		return err
	}
	notice, err := newAuthNotice(c.dir)
	if err != nil {
		c.log.Debug("no notice of ssh's login: the key goes after a delay", "err", err)
	}
	if notice != nil {
		defer notice.Close()
		args = append(notice.SSHOptions(), args...)
	}
	return c.runSSH(ctx, sshBin, args, notice)
}

// sshArgs returns ssh's arguments after its name: ecsterm's options, then the destination, then
// the user's arguments (ssh reads options after the destination too, up to the command).
func (c *conn) sshArgs(keyFile, known, user string) ([]string, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding ecsterm's own path for the ProxyCommand: %w", err)
	}
	proxy := append([]string{self}, c.opts.Globals...)
	proxy = append(proxy, "proxy", c.id)
	args := []string{
		"-i", keyFile,
		"-o", "IdentitiesOnly=yes",
		"-o", "UserKnownHostsFile=" + sshConfigQuote(known),
		"-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "StrictHostKeyChecking=yes",
		"-o", "HostKeyAlias=" + c.id,
		"-o", "ControlMaster=no",
		"-o", "ControlPath=none",
		"-o", "ProxyCommand=" + proxyCommand(proxy) + " %p",
		"-l", user,
		"-p", strconv.Itoa(c.opts.Port),
		c.id,
	}
	return append(args, c.opts.SSHArgs...), nil
}

// writeNew writes a file that must not exist yet, readable by its owner only.
func writeNew(name string, data []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// limited keeps the first n bytes written to it and drops the rest.
type limited struct {
	b []byte
	n int
}

func (l *limited) Write(p []byte) (int, error) {
	if room := l.n - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

var _ io.Writer = (*limited)(nil)
