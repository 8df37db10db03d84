//go:build linux

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecsterm/ecsterm/internal/emulator"
)

// These tests copy from an instance that works against the user: a tree that plants a link and
// then puts a directory where it was, and an instance whose answers lie about what they send.
// The emulated instance is this machine, so "outside the destination" is a real directory here.

// doctorInstance makes the emulated instance lie: a wrapper sh, first on the PATH the emulator's
// agent gives its sessions, runs every cp script through sed with expr. Tests that use it must
// not be parallel (it changes this process's PATH, which the agent reads at each session).
func doctorInstance(t *testing.T, expr string) {
	t.Helper()
	real, err := filepathLookSh()
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	wrapper := "#!" + real + "\n" +
		"case \"$2\" in *ecsterm-cp*) s=$(printf '%s' \"$2\" | sed " + shQuote(expr) + ") && exec " + real + " -c \"$s\";; esac\n" +
		"exec " + real + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(dir, "sh"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

func filepathLookSh() (string, error) {
	for _, p := range []string{"/bin/sh", "/usr/bin/sh"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", os.ErrNotExist
}

func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// TestCpDownloadMergeFollowsNoLink: a first download brings a link to a directory outside the
// destination; the instance then puts a directory of that name in its place, and the same tree
// is downloaded again into the same destination. Nothing may be written through the link.
func TestCpDownloadMergeFollowsNoLink(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	remote, down, outside := t.TempDir(), t.TempDir(), t.TempDir()
	tree := filepath.Join(remote, "tree")
	os.Mkdir(tree, 0o755)
	os.WriteFile(filepath.Join(tree, "plain.txt"), []byte("v1\n"), 0o644)
	os.WriteFile(filepath.Join(outside, "important.conf"), []byte("the user's own\n"), 0o644)
	if err := os.Symlink(outside, filepath.Join(tree, "evil")); err != nil {
		t.Fatal(err)
	}
	h.mustCopy(down, "-r", demoInstance+":"+tree, ".")
	if l, err := os.Readlink(filepath.Join(down, "tree", "evil")); err != nil || l != outside {
		t.Fatalf("first copy: link %q, %v", l, err)
	}

	os.Remove(filepath.Join(tree, "evil"))
	os.Mkdir(filepath.Join(tree, "evil"), 0o755)
	os.WriteFile(filepath.Join(tree, "evil", "important.conf"), []byte("planted\n"), 0o644)
	os.WriteFile(filepath.Join(tree, "plain.txt"), []byte("v2\n"), 0o644)
	r := h.runIn(down, "cp", "-r", demoInstance+":"+tree, ".")
	if b, _ := os.ReadFile(filepath.Join(outside, "important.conf")); string(b) != "the user's own\n" {
		t.Errorf("the file outside the destination now holds %q", b)
	}
	if got := strings.Join(listDir(t, outside), ","); got != "important.conf" {
		t.Errorf("outside the destination: %s", got)
	}
	if r.code != 255 || !strings.Contains(r.stderr, "symbolic link") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("second copy: exit %d, stdout %q, stderr %q; want 255 and one line about the link", r.code, r.stdout, r.stderr)
	}
	// Refused before anything moved: the rest of the tree is as the first copy left it.
	if b, _ := os.ReadFile(filepath.Join(down, "tree", "plain.txt")); string(b) != "v1\n" {
		t.Errorf("plain.txt after a refused merge: %q", b)
	}
	if got := strings.Join(listDir(t, down), ","); got != "tree" {
		t.Errorf("local directory holds %s", got)
	}
}

// TestCpDownloadNameIsTheUsers: the local name of a download comes from the path the user
// gave, never from the instance's answer.
func TestCpDownloadNameIsTheUsers(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	remote, down := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(remote, "report.txt"), []byte("echo pwned\n"), 0o644)
	os.Mkdir(filepath.Join(remote, "report"), 0o755)
	os.WriteFile(filepath.Join(remote, "report", "authorized_keys"), []byte("ssh-ed25519 AAAA attacker\n"), 0o644)
	os.Mkdir(filepath.Join(down, ".ssh"), 0o700)
	os.WriteFile(filepath.Join(down, ".ssh", "authorized_keys"), []byte("ssh-ed25519 AAAA user\n"), 0o600)
	const lie = `n=.bashrc; case $p in *report) n=.ssh;; esac`
	doctorInstance(t, `s/n=\${p##\*\/}/`+lie+`/g;s/n=\${PWD##\*\/}/`+lie+`/g`)

	r := h.runIn(down, "cp", demoInstance+":"+remote+"/report.txt", ".")
	if r.code != 255 || !strings.Contains(r.stderr, ".bashrc") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("file named .bashrc by the instance: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = h.runIn(down, "cp", "-r", demoInstance+":"+remote+"/report", ".")
	if r.code != 255 || !strings.Contains(r.stderr, ".ssh") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("tree named .ssh by the instance: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if got := strings.Join(listDir(t, down), ","); got != ".ssh" {
		t.Errorf("local directory holds %s", got)
	}
	if got := strings.Join(listDir(t, filepath.Join(down, ".ssh")), ","); got != "authorized_keys" {
		t.Errorf(".ssh holds %s", got)
	}
	if b, _ := os.ReadFile(filepath.Join(down, ".ssh", "authorized_keys")); string(b) != "ssh-ed25519 AAAA user\n" {
		t.Errorf("authorized_keys now holds %q", b)
	}
}

// TestCpDashPaths: remote paths that begin with - are paths, not options, to every tool the
// scripts run, both ways.
func TestCpDashPaths(t *testing.T) {
	state := t.TempDir()
	h := newHarness(t, emulator.Options{StateDir: state})
	home := filepath.Join(state, demoInstance)
	local := t.TempDir()
	want := writeRandom(t, filepath.Join(local, "f"), 1000)
	os.MkdirAll(filepath.Join(local, "d", "sub"), 0o755)
	os.WriteFile(filepath.Join(local, "d", "sub", "x"), []byte("x\n"), 0o644)
	for _, name := range []string{"-n", "--help", "-rf"} {
		h.mustCopy(local, "f", demoInstance+":"+name)
		if got := fileSHA(t, filepath.Join(home, name)); got != want {
			t.Errorf("upload to %s: sha256 %s, want %s", name, got, want)
		}
		h.mustCopy(local, "-r", "d", demoInstance+":"+name+".d")
		if b, err := os.ReadFile(filepath.Join(home, name+".d", "sub", "x")); err != nil || string(b) != "x\n" {
			t.Errorf("tree upload to %s.d: %q, %v", name, b, err)
		}
		down := t.TempDir()
		h.mustCopy(down, demoInstance+":"+name, ".")
		h.mustCopy(down, "-r", demoInstance+":"+name+".d", ".")
		if got := fileSHA(t, filepath.Join(down, name)); got != want {
			t.Errorf("download of %s: sha256 %s, want %s", name, got, want)
		}
		if b, err := os.ReadFile(filepath.Join(down, name+".d", "sub", "x")); err != nil || string(b) != "x\n" {
			t.Errorf("tree download of %s.d: %q, %v", name, b, err)
		}
	}
}

// TestCpDownloadSourceNames: what a download is called in an existing directory, for sources
// whose last element is not a plain name.
func TestCpDownloadSourceNames(t *testing.T) {
	state := t.TempDir()
	h := newHarness(t, emulator.Options{StateDir: state})
	home := filepath.Join(state, demoInstance)
	os.MkdirAll(filepath.Join(home, "conf"), 0o755)
	os.WriteFile(filepath.Join(home, "conf", "a.conf"), []byte("a\n"), 0o644)
	down := t.TempDir()

	// A trailing slash: the directory's own name.
	h.mustCopy(down, "-r", demoInstance+":conf/", ".")
	// ".": the contents, into the destination itself (as cp -r dir/. dst does).
	os.Mkdir(filepath.Join(down, "dot"), 0o755)
	h.mustCopy(down, "-r", demoInstance+":conf/.", "dot")
	// The home directory has no name of its own here: refused before any session, nothing
	// written; given a new local path, it takes that.
	for _, src := range []string{"~", "", "/", "conf/.."} {
		r := h.runIn(down, "cp", "-r", demoInstance+":"+src, ".")
		if r.code != 255 || !strings.Contains(r.stderr, "no name of its own") || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("cp -r %q .: exit %d, stdout %q, stderr %q", src, r.code, r.stdout, r.stderr)
		}
	}
	h.mustCopy(down, "-r", demoInstance+":~", "home")
	for _, p := range []string{"conf/a.conf", "dot/a.conf", "home/conf/a.conf"} {
		if b, err := os.ReadFile(filepath.Join(down, p)); err != nil || string(b) != "a\n" {
			t.Errorf("%s: %q, %v", p, b, err)
		}
	}
	if got := strings.Join(listDir(t, down), ","); got != "conf,dot,home" {
		t.Errorf("local directory holds %s", got)
	}
}
