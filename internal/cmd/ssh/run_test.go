//go:build unix

package ssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecsterm/ecsterm/internal/attach"
	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/iostreams"
	"github.com/ecsterm/ecsterm/internal/target"
)

// fakeInstance answers ssh's two scripts: install (what install prints, and its status) and
// remove.
type fakeInstance struct {
	install      string
	status       int
	err          error // of every exec
	removeStatus int

	mu    sync.Mutex
	execs []attach.ExecOptions
}

func (f *fakeInstance) Exec(_ context.Context, o attach.ExecOptions) (int, error) {
	f.mu.Lock()
	f.execs = append(f.execs, o)
	f.mu.Unlock()
	if f.err != nil {
		return 0, f.err
	}
	if strings.Contains(o.Command, "echo installed") {
		io.WriteString(o.Stdout, f.install)
		return f.status, nil
	}
	if f.removeStatus != 0 {
		return f.removeStatus, nil
	}
	io.WriteString(o.Stdout, "user admin\nremoved\n")
	return 0, nil
}

func (f *fakeInstance) Shell(context.Context, attach.ShellOptions) error {
	return errors.New("no shell")
}

func (f *fakeInstance) Ports(context.Context, attach.PortOptions) attach.PortOpener { return nil }

// scripts says which scripts ran, in order: "install" or "remove".
func (f *fakeInstance) scripts() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var s []string
	for _, o := range f.execs {
		if strings.Contains(o.Command, "echo installed") {
			s = append(s, "install")
		} else {
			s = append(s, "remove")
		}
	}
	return s
}

type lister []cloud.InstanceInfo

func (l lister) ListInstances(context.Context, cloud.InstanceFilter) ([]cloud.InstanceInfo, error) {
	return l, nil
}

// fakeSSH puts an ssh on PATH that writes its arguments (one a line) and the known-hosts file
// it was given into dir, runs its LocalCommand (the notice that it has logged in), prints a
// line and exits with status.
func fakeSSH(t *testing.T, status int) (dir string) {
	t.Helper()
	bin, dir := t.TempDir(), t.TempDir()
	script := fmt.Sprintf(`#!/bin/sh
printf '%%s\n' "$@" >'%[1]s/args'
for a; do case "$a" in
UserKnownHostsFile=*) cat "${a#UserKnownHostsFile=}" >'%[1]s/known';;
LocalCommand=*) eval "${a#LocalCommand=}";;
esac; done
echo remote output
exit %[2]d
`, dir, status)
	if err := os.WriteFile(filepath.Join(bin, "ssh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	return dir
}

func hostKey(t *testing.T) string {
	t.Helper()
	k, err := newKeyPair("")
	if err != nil {
		t.Fatal(err)
	}
	return k.public
}

// sshOpts is Options as RunE leaves them for spec, with a fake API and Sessions.
func sshOpts(t *testing.T, spec string, inst *fakeInstance, insts ...cloud.InstanceInfo) (*Options, *strings.Builder, *strings.Builder) {
	t.Helper()
	t.Setenv("XDG_CONFIG_HOME", t.TempDir()) // the pinned host keys go there
	s, err := target.Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	ios, _, _, _ := iostreams.Test()
	var out, errOut strings.Builder
	ios.Out, ios.ErrOut = &out, &errOut
	return &Options{IO: ios, Spec: s, Port: 22,
		API:      func() (API, error) { return lister(insts), nil },
		Sessions: func() (cmdutil.Sessions, error) { return inst, nil },
	}, &out, &errOut
}

func runCtx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// One connection through the fake ssh: the key goes on with the instance's host keys read,
// ssh gets ecsterm's options, the pinned keys, the user's arguments last, and the globals in
// its ProxyCommand; the key goes once ssh has logged in; ssh's exit status is ecsterm's.
func TestSSHRun(t *testing.T) {
	key := hostKey(t)
	dir := fakeSSH(t, 5)
	inst := &fakeInstance{install: "user admin\nhostkey " + key + " root@host\nlistening yes\ninstalled\n"}
	opts, out, errOut := sshOpts(t, "web", inst, cloud.InstanceInfo{ID: "i-web", Name: "web"})
	opts.User, opts.Port = "admin", 2222
	opts.SSHArgs = []string{"-L", "8080:localhost:80", "uptime"}
	opts.Globals = []string{"--region=cn-x"}

	var ee *cmdutil.ExitError
	if err := sshRun(runCtx(t), opts); !errors.As(err, &ee) || ee.Code != 5 {
		t.Fatalf("error %v, want exit status 5", err)
	}
	if out.String() != "remote output\n" || errOut.Len() != 0 {
		t.Errorf("stdout %q stderr %q", out, errOut)
	}
	b, err := os.ReadFile(filepath.Join(dir, "args"))
	if err != nil {
		t.Fatal(err)
	}
	args := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	tail := []string{"-l", "admin", "-p", "2222", "i-web", "-L", "8080:localhost:80", "uptime"}
	if len(args) < len(tail) || !slices.Equal(args[len(args)-len(tail):], tail) {
		t.Errorf("ssh's arguments end %q, want %q", args, tail)
	}
	for _, want := range []string{"StrictHostKeyChecking=yes", "HostKeyAlias=i-web", "IdentitiesOnly=yes", "PermitLocalCommand=yes"} {
		if !slices.Contains(args, want) {
			t.Errorf("no %s in %q", want, args)
		}
	}
	i := slices.IndexFunc(args, func(a string) bool { return strings.HasPrefix(a, "ProxyCommand=") })
	if i < 0 || !strings.HasSuffix(args[i], " --region=cn-x proxy i-web %p") {
		t.Errorf("ProxyCommand: %q", args)
	}
	// The key file was private and is gone with its directory.
	if j := slices.Index(args, "-i"); j < 0 || !strings.HasSuffix(args[j+1], "id_ed25519") {
		t.Errorf("no -i: %q", args)
	} else if _, err := os.Stat(args[j+1]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the key is still there: %v", err)
	}
	if known, _ := os.ReadFile(filepath.Join(dir, "known")); string(known) != "i-web "+key+"\n" {
		t.Errorf("known hosts %q", known)
	}
	file, _ := pinnedFile()
	if pinned, _ := os.ReadFile(file); string(pinned) != "i-web "+key+"\n" {
		t.Errorf("pinned %q", pinned)
	}

	if got := inst.scripts(); !slices.Equal(got, []string{"install", "remove"}) {
		t.Fatalf("scripts %q", got)
	}
	id := regexp.MustCompile(`ecsterm-ephemeral-([0-9a-f]{16})`).FindStringSubmatch(inst.execs[0].Command)
	if id == nil || !strings.Contains(inst.execs[1].Command, "edit "+id[1]+" ''") {
		t.Errorf("the remove script is not for the installed key %v", id)
	}
	for _, o := range inst.execs {
		if o.InstanceID != "i-web" || o.Username != "admin" || o.TTY || o.Stdin != nil {
			t.Errorf("exec options %+v", o)
		}
	}
}

// Without an ssh on PATH, ecsterm says so before anything else: no API, no session.
func TestSSHRunNoSSH(t *testing.T) {
	inst := &fakeInstance{}
	opts, _, _ := sshOpts(t, "i-web", inst)
	t.Setenv("PATH", t.TempDir())
	opts.API = func() (API, error) { return nil, errors.New("no credentials") }
	if err := sshRun(runCtx(t), opts); !errors.Is(err, ErrNoSSH) || len(inst.execs) != 0 {
		t.Errorf("error %v, %d execs", err, len(inst.execs))
	}
	fakeSSH(t, 0)
	if err := sshRun(runCtx(t), opts); err == nil || err.Error() != "no credentials" || len(inst.execs) != 0 {
		t.Errorf("with ssh: error %v, %d execs", err, len(inst.execs))
	}
}

// What goes wrong on the instance stops the connection before ssh runs, with an explanation
// that carries nothing of the instance's raw text; a key that may be on the instance is taken
// away again.
func TestSSHRunInstanceRefuses(t *testing.T) {
	key := hostKey(t)
	for _, tt := range []struct {
		name    string
		inst    *fakeInstance
		user    string
		insts   []cloud.InstanceInfo
		want    string
		scripts []string
	}{
		{name: "no host keys", inst: &fakeInstance{install: "user admin\n", status: exitNoHostKeys},
			want: "has no SSH host keys", scripts: []string{"install"}},
		{name: "nothing listens", inst: &fakeInstance{install: "user admin\nhostkey " + key + "\nlistening no\n", status: exitNotListened},
			want: "nothing listens on port 22", scripts: []string{"install"}},
		{name: "another user", user: "deploy", inst: &fakeInstance{install: "user admin\nhostkey " + key + "\ninstalled\n"},
			want: "the session ran as admin, not deploy", scripts: []string{"install", "remove"}},
		{name: "a user name ssh cannot take", inst: &fakeInstance{install: "user r\x1b[2Jt\nhostkey " + key + "\ninstalled\n"},
			want: "not one ssh can log in as", scripts: []string{"install", "remove"}},
		{name: "bad host keys", inst: &fakeInstance{install: "user admin\nhostkey ssh-ed25519 AAAA\x1b]0;x\nhostkey ssh-rsa x\ninstalled\n"},
			want: "none of the 2 host keys", scripts: []string{"install", "remove"}},
		{name: "unfinished", inst: &fakeInstance{install: "user admin\nhostkey " + key + "\n"},
			want: "the script did not finish", scripts: []string{"install", "remove"}},
		{name: "a failure in its own words", inst: &fakeInstance{status: 1},
			want: "the key script failed with status 1", scripts: []string{"install", "remove"}},
		{name: "windows", inst: &fakeInstance{err: attach.ErrWindows},
			want: "i-web runs Windows", scripts: []string{"install", "remove"}},
		{name: "an ID not for a command line", inst: &fakeInstance{}, insts: []cloud.InstanceInfo{{ID: "i-web;\x1b[2Jrm", Name: "web"}},
			want: `i-web;\x1b[2Jrm`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := fakeSSH(t, 0)
			insts := tt.insts
			if insts == nil {
				insts = []cloud.InstanceInfo{{ID: "i-web", Name: "web"}}
			}
			opts, _, _ := sshOpts(t, "web", tt.inst, insts...)
			opts.User = tt.user
			err := sshRun(runCtx(t), opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if strings.ContainsAny(err.Error(), "\x1b\r\n") {
				t.Errorf("error %q carries control characters", err)
			}
			if got := tt.inst.scripts(); !slices.Equal(got, tt.scripts) {
				t.Errorf("scripts %q, want %q", got, tt.scripts)
			}
			if _, err := os.Stat(filepath.Join(dir, "args")); err == nil {
				t.Error("ssh ran")
			}
		})
	}
}

// A key that cannot be removed is said on stderr; ssh's status is still ecsterm's.
func TestSSHRunRemoveFails(t *testing.T) {
	fakeSSH(t, 0)
	inst := &fakeInstance{install: "user admin\nhostkey " + hostKey(t) + "\ninstalled\n", removeStatus: exitEdit}
	opts, _, errOut := sshOpts(t, "i-web", inst)
	if err := sshRun(runCtx(t), opts); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut.String(), "could not remove the connection's key from i-web (it expires within 3m0s)") {
		t.Errorf("stderr %q", errOut)
	}
}
