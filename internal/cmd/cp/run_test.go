//go:build linux

package cp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecsterm/ecsterm/internal/attach"
	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/iostreams"
)

// localInstance is a Sessions whose exec exchange runs the command with this machine's sh in
// home, as an agent runs it for the login user: the copy scripts run for real, in-process.
type localInstance struct {
	home  string
	mu    sync.Mutex
	execs []attach.ExecOptions
}

func (l *localInstance) Exec(ctx context.Context, o attach.ExecOptions) (int, error) {
	l.mu.Lock()
	l.execs = append(l.execs, o)
	l.mu.Unlock()
	cmd := exec.CommandContext(ctx, "sh", "-c", o.Command)
	cmd.Dir = l.home
	cmd.Env = append(os.Environ(), "HOME="+l.home)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = o.Stdin, o.Stdout, o.Stderr
	cmd.WaitDelay = 10 * time.Second // a failsafe should a stream stall
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() >= 0 {
		return ee.ExitCode(), nil
	}
	return 0, err
}

func (l *localInstance) Shell(context.Context, attach.ShellOptions) error {
	return errors.New("cp opens no shell")
}

func (l *localInstance) Ports(context.Context, attach.PortOptions) attach.PortOpener { return nil }

// fakeLister lists fixed instances.
type fakeLister struct{ insts []cloud.InstanceInfo }

func (f fakeLister) ListInstances(context.Context, cloud.InstanceFilter) ([]cloud.InstanceInfo, error) {
	return f.insts, nil
}

// setup is one copy's Options through s, and counts of the calls to API and Sessions.
type setup struct {
	opts          *Options
	out, errOut   fmt.Stringer
	apis, session int
}

func newSetup(t *testing.T, s cmdutil.Sessions, src, dst string, recursive bool) *setup {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	st := &setup{out: out, errOut: errOut}
	st.opts = &Options{IO: ios, Recursive: recursive, JSON: true,
		API: func() (API, error) {
			st.apis++
			return fakeLister{[]cloud.InstanceInfo{{ID: "i-web", Name: "web"}}}, nil
		},
		Sessions: func() (cmdutil.Sessions, error) {
			st.session++
			return s, nil
		}}
	if err := st.opts.parseArgs(src, dst); err != nil {
		t.Fatal(err)
	}
	return st
}

func needTools(t *testing.T) {
	for _, tool := range []string{"sh", "sha256sum", "tar", "mktemp", "find", "head", "stat"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s", tool)
		}
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

func write(t *testing.T, name, data string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(name, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A file up and back down through the local instance: the copy lands where cp and scp put it,
// with its mode, the JSON record says what was copied (the target as given), and the session
// is on the instance the name resolves to.
func TestCpRunFile(t *testing.T) {
	needTools(t)
	local, home := t.TempDir(), t.TempDir()
	os.Mkdir(filepath.Join(home, "dir"), 0o755)
	write(t, filepath.Join(local, "a.txt"), "hello\n", 0o750)
	inst := &localInstance{home: home}

	st := newSetup(t, inst, filepath.Join(local, "a.txt"), "admin@web:dir/", false)
	st.opts.NoResume = true
	if err := cpRun(ctx(t), st.opts); err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(home, "dir", "a.txt")); got != "hello\n" {
		t.Errorf("uploaded %q", got)
	}
	var res result
	if err := json.Unmarshal([]byte(st.out.String()), &res); err != nil {
		t.Fatalf("%v: %q", err, st.out)
	}
	if res.Dst != "web:dir/a.txt" || res.Bytes != 6 || res.SHA256 != sha("hello\n") {
		t.Errorf("record %+v", res)
	}
	o := inst.execs[0]
	if len(inst.execs) != 1 || o.InstanceID != "i-web" || o.Username != "admin" || !o.NoResume || o.TTY || o.Stdin == nil {
		t.Errorf("exec options %+v", o)
	}

	st = newSetup(t, inst, "i-web:dir/a.txt", filepath.Join(local, "b.txt"), false)
	if err := cpRun(ctx(t), st.opts); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(local, "b.txt"))
	if err != nil || fi.Mode().Perm()&0o700 != 0o700 || read(t, filepath.Join(local, "b.txt")) != "hello\n" {
		t.Errorf("downloaded: %v, %v", fi, err)
	}
	if names(t, local) != "a.txt,b.txt" || names(t, filepath.Join(home, "dir")) != "a.txt" {
		t.Errorf("left behind: local %s, remote %s", names(t, local), names(t, filepath.Join(home, "dir")))
	}
}

// A tree up with -r and back down: files, modes and symbolic links arrive as they were, and
// the record counts the files.
func TestCpRunTree(t *testing.T) {
	needTools(t)
	local, home, back := t.TempDir(), t.TempDir(), t.TempDir()
	tree := filepath.Join(local, "site")
	write(t, filepath.Join(tree, "index.html"), "<html>\n", 0o644)
	write(t, filepath.Join(tree, "bin", "run"), "#!/bin/sh\n", 0o755)
	if err := os.Symlink("index.html", filepath.Join(tree, "home.html")); err != nil {
		t.Fatal(err)
	}
	inst := &localInstance{home: home}

	st := newSetup(t, inst, tree, "i-web:~/srv", true)
	if err := cpRun(ctx(t), st.opts); err != nil {
		t.Fatal(err)
	}
	st = newSetup(t, inst, "i-web:srv", back, true)
	if err := cpRun(ctx(t), st.opts); err != nil {
		t.Fatal(err)
	}
	var res result
	if err := json.Unmarshal([]byte(st.out.String()), &res); err != nil || res.Files == nil || *res.Files != 2 {
		t.Fatalf("record %q: %v", st.out, err)
	}
	got := filepath.Join(back, "srv")
	if read(t, filepath.Join(got, "index.html")) != "<html>\n" || read(t, filepath.Join(got, "bin", "run")) != "#!/bin/sh\n" {
		t.Error("contents differ")
	}
	if fi, err := os.Stat(filepath.Join(got, "bin", "run")); err != nil || fi.Mode().Perm()&0o100 == 0 {
		t.Errorf("bin/run: %v, %v", fi, err)
	}
	if l, err := os.Readlink(filepath.Join(got, "home.html")); err != nil || l != "index.html" {
		t.Errorf("link %q, %v", l, err)
	}
	if names(t, back) != "srv" || names(t, home) != "srv" {
		t.Errorf("left behind: %s; %s", names(t, back), names(t, home))
	}
}

// What fails on this side fails before the API is asked or a session starts: a missing local
// file is reported as such, not as missing credentials.
func TestCpRunLocalChecksFirst(t *testing.T) {
	local := t.TempDir()
	os.Mkdir(filepath.Join(local, "d"), 0o755)
	inst := &localInstance{home: t.TempDir()}
	for _, tt := range []struct{ src, dst, want string }{
		{filepath.Join(local, "missing"), "i-web:/tmp", "no such file"},
		{filepath.Join(local, "d"), "i-web:/tmp", "is a directory (use -r)"},
		{"i-web:/etc/hosts", filepath.Join(local, "nope", "x"), "no such file"},
		{"i-web:/etc/hosts", filepath.Join(local, "nope") + "/", "no such directory"},
		{"i-web:~", local, "no name of its own"},
	} {
		st := newSetup(t, inst, tt.src, tt.dst, false)
		st.opts.API = func() (API, error) { return nil, errors.New("no credentials") }
		err := cpRun(ctx(t), st.opts)
		if err == nil || !strings.Contains(err.Error(), tt.want) || st.session != 0 || len(inst.execs) != 0 {
			t.Errorf("%s → %s: error %v, sessions %d", tt.src, tt.dst, err, st.session)
		}
	}
	// Once the local side is fine, the API's error is cp's.
	write(t, filepath.Join(local, "f"), "x", 0o644)
	st := newSetup(t, inst, filepath.Join(local, "f"), "i-web:/tmp", false)
	st.opts.API = func() (API, error) { return nil, errors.New("no credentials") }
	if err := cpRun(ctx(t), st.opts); err == nil || !strings.Contains(err.Error(), "no credentials") || st.session != 0 {
		t.Errorf("error %v, sessions %d", err, st.session)
	}
}

// A copy the instance refuses says why, and writes nothing.
func TestCpRunRemoteFails(t *testing.T) {
	needTools(t)
	local := t.TempDir()
	inst := &localInstance{home: t.TempDir()}
	st := newSetup(t, inst, "i-web:missing.txt", local, false)
	err := cpRun(ctx(t), st.opts)
	if err == nil || !strings.Contains(err.Error(), "i-web: missing.txt: No such file or directory") {
		t.Errorf("error %v", err)
	}
	write(t, filepath.Join(inst.home, "d", "f"), "x", 0o644)
	st = newSetup(t, inst, "i-web:d", local, false)
	if err := cpRun(ctx(t), st.opts); err == nil || !strings.Contains(err.Error(), "is a directory (use -r)") {
		t.Errorf("error %v", err)
	}
	if names(t, local) != "" {
		t.Errorf("left behind: %s", names(t, local))
	}
}

// hostile is an instance that answers with what it likes, whatever the script.
type hostile struct {
	stdout, stderr string
	status         int
}

func (h *hostile) Exec(_ context.Context, o attach.ExecOptions) (int, error) {
	if o.Stdin != nil {
		io.Copy(io.Discard, o.Stdin)
	}
	io.WriteString(o.Stdout, h.stdout)
	io.WriteString(o.Stderr, h.stderr)
	return h.status, nil
}

func (h *hostile) Shell(context.Context, attach.ShellOptions) error { return errors.New("no shell") }

func (h *hostile) Ports(context.Context, attach.PortOptions) attach.PortOpener { return nil }

// A hostile instance cannot get a file written under a name of its choosing, nor a copy that
// does not match its checksum, nor control characters onto the terminal through an error.
func TestCpRunHostile(t *testing.T) {
	hello := "hello"
	sum := sha(hello) + "  -\n"
	for _, tt := range []struct {
		name string
		src  string // the remote side; "" uploads
		h    hostile
		want string
		tree bool
	}{
		{name: "another name", src: "i-web:/x/f.txt",
			h: hostile{stdout: "ecsterm-cp f 5 644 ../../.bashrc\x00" + hello, stderr: sumsMarker + sum}, want: "named the copy"},
		{name: "a directory without -r", src: "i-web:/x/f.txt",
			h: hostile{stdout: "ecsterm-cp d -1 0 f.txt\x00", stderr: sumsMarker}, want: "sent a directory"},
		{name: "wrong checksum", src: "i-web:/x/f.txt",
			h: hostile{stdout: "ecsterm-cp f 5 644 f.txt\x00" + hello, stderr: sumsMarker + sha("other") + "  -\n"}, want: "checksum mismatch"},
		{name: "no checksum", src: "i-web:/x/f.txt",
			h: hostile{stdout: "ecsterm-cp f 5 644 f.txt\x00" + hello}, want: "no checksums"},
		{name: "malformed checksum", src: "i-web:/x/f.txt",
			h: hostile{stdout: "ecsterm-cp f 5 644 f.txt\x00" + hello, stderr: sumsMarker + "\x1b[2J"}, want: "malformed checksum"},
		{name: "short data", src: "i-web:/x/f.txt",
			h: hostile{stdout: "ecsterm-cp f 10 644 f.txt\x00" + hello, stderr: sumsMarker + sum}, want: "received 5 bytes of 10"},
		{name: "noise instead of a header", src: "i-web:/x/f.txt",
			h: hostile{stdout: "\x1b]0;owned\x07 welcome\n"}, want: "unexpected output"},
		{name: "escapes in a failure", src: "i-web:/x/f.txt",
			h: hostile{stderr: "\x1b[31mdenied\r\nforged line", status: 3}, want: `i-web: \x1b[31mdenied forged line`},
		{name: "upload: wrong checksum acknowledged",
			h: hostile{stdout: "ecsterm-cp ok " + sha("other") + " /x/f.txt\x00"}, want: "checksum mismatch"},
		{name: "upload: noise instead of an acknowledgement",
			h: hostile{stdout: "\x1b]0;owned\x07"}, want: "unexpected reply"},
		{name: "upload tree: files miscounted", tree: true,
			h: hostile{stdout: "ecsterm-cp ok 7 /x/t\x00"}, want: "sent 1 files, the instance checked 7"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			local := t.TempDir()
			src, dst := tt.src, local
			if src == "" {
				src, dst = filepath.Join(local, "f.txt"), "i-web:/x/"
				if tt.tree {
					src = filepath.Join(local, "t")
					write(t, filepath.Join(src, "f"), hello, 0o644)
				} else {
					write(t, src, hello, 0o644)
				}
			}
			before := names(t, local)
			st := newSetup(t, &tt.h, src, dst, tt.tree)
			err := cpRun(ctx(t), st.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if strings.ContainsAny(err.Error(), "\x1b\x07\r\n") {
				t.Errorf("error %q carries control characters", err)
			}
			if got := names(t, local); got != before {
				t.Errorf("local directory %s, was %s", got, before)
			}
		})
	}
}
