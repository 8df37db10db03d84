//go:build linux

package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/ecsterm/ecsterm/internal/emulator"
)

// The emulated instance is this machine, so a remote path is a local path: each test copies
// between two temporary directories, one reached through ecsterm.

func writeRandom(t *testing.T, path string, n int) string {
	t.Helper()
	data := make([]byte, n)
	rand.Read(data)
	if err := os.WriteFile(path, data, 0o640); err != nil {
		t.Fatal(err)
	}
	return sha256Hex(data)
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func fileSHA(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256Hex(b)
}

// runIn runs ecsterm with dir as its working directory and no stdin.
func (h *harness) runIn(dir string, args ...string) result {
	h.t.Helper()
	cmd := h.command(args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		h.t.Fatalf("running ecsterm: %v", err)
	}
	return result{code, out.String(), errb.String()}
}

// mustCopy runs a copy that must succeed silently.
func (h *harness) mustCopy(dir string, args ...string) {
	h.t.Helper()
	r := h.runIn(dir, append([]string{"cp"}, args...)...)
	if r.code != 0 || r.stdout != "" || r.stderr != "" {
		h.t.Fatalf("ecsterm cp %q: exit %d, stdout %q, stderr %q", args, r.code, r.stdout, r.stderr)
	}
}

// listDir returns the names in dir, to check that no temporary file is left behind.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func TestCpFileBothWays(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	local, remote := t.TempDir(), t.TempDir()
	src := filepath.Join(local, "site.bin")
	want := writeRandom(t, src, 16<<20)

	// Up, into an existing directory: the file keeps its name and its mode.
	h.mustCopy(local, "site.bin", demoInstance+":"+remote+"/")
	if got := fileSHA(t, filepath.Join(remote, "site.bin")); got != want {
		t.Fatalf("uploaded sha256 %s, want %s", got, want)
	}
	if fi, _ := os.Stat(filepath.Join(remote, "site.bin")); fi.Mode().Perm() != 0o640 {
		t.Errorf("uploaded mode %v, want 0640", fi.Mode().Perm())
	}

	// Down, into ".": the file lands in the working directory under its own name.
	down := t.TempDir()
	h.mustCopy(down, demoInstance+":"+remote+"/site.bin", ".")
	if got := fileSHA(t, filepath.Join(down, "site.bin")); got != want {
		t.Fatalf("downloaded sha256 %s, want %s", got, want)
	}

	// Down again onto a new name, with -o json: one object on stdout, nothing on stderr.
	r := h.runIn(down, "-o", "json", "cp", demoInstance+":"+remote+"/site.bin", "copy.bin")
	var rec struct {
		Src, Dst   string
		Bytes      int64
		SHA256     string
		DurationMS *int64 `json:"duration_ms"`
	}
	if r.code != 0 || r.stderr != "" || json.Unmarshal([]byte(r.stdout), &rec) != nil || strings.Count(r.stdout, "\n") != 1 {
		t.Fatalf("-o json: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if rec.Bytes != 16<<20 || rec.SHA256 != want || rec.Dst != "copy.bin" || rec.DurationMS == nil {
		t.Errorf("-o json record %+v", rec)
	}
	if got := fileSHA(t, filepath.Join(down, "copy.bin")); got != want {
		t.Fatalf("copy.bin sha256 %s", got)
	}

	// Up onto a new name, replacing nothing else; ~/ is the remote home.
	h.mustCopy(local, "site.bin", demoInstance+":"+remote+"/renamed.bin")
	if got := fileSHA(t, filepath.Join(remote, "renamed.bin")); got != want {
		t.Fatalf("renamed.bin sha256 %s", got)
	}

	// No temporary file is left on either side.
	if got := strings.Join(listDir(t, remote), ","); got != "renamed.bin,site.bin" {
		t.Errorf("remote directory holds %s", got)
	}
	if got := strings.Join(listDir(t, down), ","); got != "copy.bin,site.bin" {
		t.Errorf("local directory holds %s", got)
	}
}

// makeTree builds the directory tree the -r tests copy: nested directories, an empty file, an
// empty directory, a name with spaces and a quote, an executable, and a symbolic link.
func makeTree(t *testing.T, dir string) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "sub", "deeper"), 0o755))
	must(os.MkdirAll(filepath.Join(dir, "empty dir"), 0o700))
	must(os.WriteFile(filepath.Join(dir, "README"), []byte("hello\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "empty"), nil, 0o644))
	must(os.WriteFile(filepath.Join(dir, "sub", "it's a file.txt"), []byte("spaces and a quote\n"), 0o600))
	must(os.WriteFile(filepath.Join(dir, "sub", "run.sh"), []byte("#!/bin/sh\necho ran\n"), 0o755))
	writeRandom(t, filepath.Join(dir, "sub", "deeper", "data.bin"), 300<<10)
	must(os.Symlink("sub/run.sh", filepath.Join(dir, "link")))
	old := time.Date(2020, 2, 2, 2, 2, 2, 0, time.UTC)
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type()&fs.ModeSymlink == 0 {
			os.Chtimes(p, old, old)
		}
		return nil
	})
	os.Chtimes(dir, old, old)
}

// treeOf describes a tree: per path, its type, mode, mtime, and content hash or link target.
func treeOf(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			out[rel] = "link -> " + l
		case fi.IsDir():
			out[rel] = fi.Mode().Perm().String() + " " + fi.ModTime().UTC().Format(time.RFC3339)
		default:
			out[rel] = fi.Mode().Perm().String() + " " + fi.ModTime().UTC().Format(time.RFC3339) + " " + fileSHA(t, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameTree(t *testing.T, what, want, got string) {
	t.Helper()
	a, b := treeOf(t, want), treeOf(t, got)
	for k, v := range a {
		if b[k] != v {
			t.Errorf("%s: %q is %q, want %q", what, k, b[k], v)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			t.Errorf("%s: unexpected %q", what, k)
		}
	}
}

func TestCpTreeBothWays(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	local, remote := t.TempDir(), t.TempDir()
	src := filepath.Join(local, "site")
	makeTree(t, src)

	// Up onto an existing directory: it becomes remote/site. Then again onto a new path,
	// which becomes the copy itself.
	h.mustCopy(local, "-r", "site", demoInstance+":"+remote)
	sameTree(t, "upload into a directory", src, filepath.Join(remote, "site"))
	h.mustCopy(local, "-r", "site", demoInstance+":"+remote+"/fresh")
	sameTree(t, "upload to a new path", src, filepath.Join(remote, "fresh"))
	if got := strings.Join(listDir(t, remote), ","); got != "fresh,site" {
		t.Errorf("remote directory holds %s", got)
	}

	// Down: into ".", and onto a new path.
	down := t.TempDir()
	h.mustCopy(down, "-r", demoInstance+":"+remote+"/site", ".")
	sameTree(t, "download into .", src, filepath.Join(down, "site"))
	h.mustCopy(down, "-r", demoInstance+":"+remote+"/fresh/", "again")
	sameTree(t, "download to a new path", src, filepath.Join(down, "again"))
	if got := strings.Join(listDir(t, down), ","); got != "again,site" {
		t.Errorf("local directory holds %s", got)
	}

	// Onto an existing copy: merged, as cp -r does; a changed file is replaced.
	os.WriteFile(filepath.Join(remote, "site", "README"), []byte("changed\n"), 0o644)
	h.mustCopy(down, "-r", demoInstance+":"+remote+"/site", ".")
	if b, _ := os.ReadFile(filepath.Join(down, "site", "README")); string(b) != "changed\n" {
		t.Errorf("merged README: %q", b)
	}
	if _, err := os.Stat(filepath.Join(down, "site", "sub", "deeper", "data.bin")); err != nil {
		t.Error(err)
	}
	if got := strings.Join(listDir(t, down), ","); got != "again,site" {
		t.Errorf("local directory holds %s after a merge", got)
	}
}

func TestCpErrors(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	local, remote := t.TempDir(), t.TempDir()

	// A missing remote file: 255, one line naming it, and nothing written locally.
	r := h.runIn(local, "cp", demoInstance+":"+remote+"/missing.log", ".")
	if r.code != 255 || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "missing.log: No such file") {
		t.Errorf("missing remote file: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if names := listDir(t, local); len(names) != 0 {
		t.Errorf("left behind: %q", names)
	}

	// Both sides local: a usage error.
	r = h.runIn(local, "cp", "a", "b")
	if r.code != 2 || !strings.Contains(r.stderr, "neither") {
		t.Errorf("both local: exit %d, stderr %q", r.code, r.stderr)
	}
	r = h.runIn(local, "cp", demoInstance+":/a", demoInstance+":/b")
	if r.code != 2 {
		t.Errorf("both remote: exit %d, stderr %q", r.code, r.stderr)
	}

	// A directory without -r, either way.
	os.Mkdir(filepath.Join(local, "d"), 0o755)
	r = h.runIn(local, "cp", "d", demoInstance+":"+remote)
	if r.code != 255 || !strings.Contains(r.stderr, "use -r") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("local directory without -r: exit %d, stderr %q", r.code, r.stderr)
	}
	r = h.runIn(local, "cp", demoInstance+":"+remote, "x")
	if r.code != 255 || !strings.Contains(r.stderr, "use -r") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("remote directory without -r: exit %d, stderr %q", r.code, r.stderr)
	}

	// Into a remote directory that does not exist.
	os.WriteFile(filepath.Join(local, "f"), []byte("f"), 0o644)
	r = h.runIn(local, "cp", "f", demoInstance+":"+remote+"/nope/")
	if r.code != 255 || !strings.Contains(r.stderr, "No such directory") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("missing remote directory: exit %d, stderr %q", r.code, r.stderr)
	}
	if names := listDir(t, remote); len(names) != 0 {
		t.Errorf("left behind on the instance: %q", names)
	}

	// An instance that cannot run it: 255, and nothing written.
	r = h.runIn(local, "cp", "i-emu0stopped000002:/tmp/x", "out")
	if r.code != 255 || !strings.Contains(r.stderr, "Stopped") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("stopped instance: exit %d, stderr %q", r.code, r.stderr)
	}
	if got := strings.Join(listDir(t, local), ","); got != "d,f" {
		t.Errorf("local directory holds %s", got)
	}
}

// TestCpProgress: with stderr on a terminal, a progress bar is drawn there and cleared at the
// end; stdout stays empty.
func TestCpProgress(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	local, remote := t.TempDir(), t.TempDir()
	writeRandom(t, filepath.Join(remote, "big.bin"), 8<<20)
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ptmx.Close(); tty.Close() })
	cmd := h.command("cp", demoInstance+":"+remote+"/big.bin", ".")
	cmd.Dir = local
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, tty
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	scr := newScreen()
	copied := make(chan struct{})
	go func() { io.Copy(scr, ptmx); close(copied) }()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v; stderr %q", err, scr.String())
	}
	<-copied
	s := scr.String()
	if out.Len() != 0 {
		t.Errorf("stdout %q", out.String())
	}
	if !strings.Contains(s, "big.bin") || !strings.HasSuffix(s, "\r\x1b[K") {
		t.Errorf("terminal stderr %q: want a progress line, cleared at the end", s)
	}
}
