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
	home string
	// corrupt, if set, turns every Z in the data either way into a Y, as a broken path would.
	corrupt bool
	mu      sync.Mutex
	execs   []attach.ExecOptions
}

// zToY changes every Z that passes through it into a Y.
type zToY struct {
	r io.Reader
	w io.Writer
}

func (z zToY) Read(p []byte) (int, error) {
	n, err := z.r.Read(p)
	copy(p[:n], strings.ReplaceAll(string(p[:n]), "Z", "Y"))
	return n, err
}

func (z zToY) Write(p []byte) (int, error) {
	return z.w.Write([]byte(strings.ReplaceAll(string(p), "Z", "Y")))
}

func (l *localInstance) Exec(ctx context.Context, o attach.ExecOptions) (int, error) {
	l.mu.Lock()
	l.execs = append(l.execs, o)
	l.mu.Unlock()
	cmd := exec.CommandContext(ctx, "sh", "-c", o.Command)
	cmd.Dir = l.home
	cmd.Env = append(os.Environ(), "HOME="+l.home)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = o.Stdin, o.Stdout, o.Stderr
	if l.corrupt && o.Stdin != nil {
		cmd.Stdin = zToY{r: o.Stdin}
	}
	if l.corrupt {
		cmd.Stdout = zToY{w: o.Stdout}
	}
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

// Data changed on the way, either way, for a file or a tree: the checksums catch it, at the
// instance for an upload and here for a download, and neither side keeps anything of it.
func TestCpRunCorrupted(t *testing.T) {
	needTools(t)
	for _, tt := range []struct {
		name           string
		download, tree bool
	}{
		{"upload a file", false, false}, {"upload a tree", false, true},
		{"download a file", true, false}, {"download a tree", true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			local, home := t.TempDir(), t.TempDir()
			from := local
			if tt.download {
				from = home
			}
			src := filepath.Join(from, "data")
			if tt.tree {
				write(t, filepath.Join(src, "f"), "ZZZ\n", 0o644)
			} else {
				write(t, src, "ZZZ\n", 0o644)
			}
			inst := &localInstance{home: home, corrupt: true}
			st := newSetup(t, inst, src, "i-web:", tt.tree)
			into := home
			if tt.download {
				st = newSetup(t, inst, "i-web:data", local, tt.tree)
				into = local
			}
			err := cpRun(ctx(t), st.opts)
			if err == nil || !strings.Contains(err.Error(), "checksum mismatch") {
				t.Fatalf("error %v", err)
			}
			if got := names(t, into); got != "" {
				t.Errorf("the destination holds %s", got)
			}
			if got := names(t, from); got != "data" {
				t.Errorf("the source's side holds %s", got)
			}
		})
	}
}
