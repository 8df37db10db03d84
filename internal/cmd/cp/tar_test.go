package cp

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tarEntry is one entry of a test archive.
type tarEntry struct {
	name string
	typ  byte
	body string
	link string
	mode int64
}

func makeTar(t *testing.T, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: mode, Size: int64(len(e.body)), ModTime: time.Unix(1700000000, 0)}
		if e.typ != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// extractInto extracts archive into a new directory inside a parent directory, so that a
// test can see whether anything landed outside it.
func extractInto(t *testing.T, archive []byte) (parent, dir string, got sums, err error) {
	t.Helper()
	parent = t.TempDir()
	dir = filepath.Join(parent, "x")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	root, rerr := os.OpenRoot(dir)
	if rerr != nil {
		t.Fatal(rerr)
	}
	defer root.Close()
	got, err = extractTree(bytes.NewReader(archive), root, 0o022, io.Discard)
	return parent, dir, got, err
}

func TestExtractTree(t *testing.T) {
	archive := makeTar(t,
		tarEntry{name: "./", typ: tar.TypeDir, mode: 0o750},
		tarEntry{name: "./sub/", typ: tar.TypeDir, mode: 0o555},
		tarEntry{name: "./sub/a b'c", typ: tar.TypeReg, body: "hello", mode: 0o755},
		tarEntry{name: "./empty", typ: tar.TypeReg},
		tarEntry{name: "./deep/er/f", typ: tar.TypeReg, body: "parents come implicitly"},
		tarEntry{name: "./link", typ: tar.TypeSymlink, link: "sub/a b'c"},
		tarEntry{name: "./abs-link", typ: tar.TypeSymlink, link: "/etc/passwd"}, // kept as a link
		tarEntry{name: "./hard", typ: tar.TypeLink, link: "./empty"},
		tarEntry{name: "./fifo", typ: tar.TypeFifo},
	)
	_, dir, got, err := extractInto(t, archive)
	if err != nil {
		t.Fatal(err)
	}
	want := sums{"sub/a b'c": sha("hello"), "empty": sha(""), "deep/er/f": sha("parents come implicitly"), "hard": sha("")}
	if err := got.compare(want); err != nil {
		t.Error(err)
	}
	if err := want.compare(got); err != nil {
		t.Error(err)
	}
	checkMode := func(name string, mode fs.FileMode) {
		t.Helper()
		fi, err := os.Lstat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode().Perm(), mode)
		}
		if fi.Mode()&fs.ModeSymlink == 0 && !fi.ModTime().Equal(time.Unix(1700000000, 0)) {
			t.Errorf("%s: mtime %v", name, fi.ModTime())
		}
	}
	checkMode(".", 0o750)
	checkMode("sub", 0o555)
	checkMode("sub/a b'c", 0o755)
	if l, err := os.Readlink(filepath.Join(dir, "abs-link")); err != nil || l != "/etc/passwd" {
		t.Errorf("abs-link: %q, %v", l, err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "fifo")); err == nil {
		t.Error("a FIFO was created")
	}
	os.Chmod(filepath.Join(dir, "sub"), 0o755) // let t.TempDir clean up
}

// TestExtractTreeRefusesEscapes: nothing in an archive can write outside the directory.
func TestExtractTreeRefusesEscapes(t *testing.T) {
	outside := t.TempDir()
	tests := []struct {
		name    string
		entries []tarEntry
		wantErr string
	}{
		{"dot-dot", []tarEntry{{name: "../x", typ: tar.TypeReg, body: "pwned"}}, ".."},
		{"inner dot-dot", []tarEntry{{name: "a/../../x", typ: tar.TypeReg, body: "pwned"}}, ".."},
		{"absolute", []tarEntry{{name: "/abs", typ: tar.TypeReg, body: "pwned"}}, "absolute"},
		{"absolute dir", []tarEntry{{name: outside + "/d/", typ: tar.TypeDir}}, "absolute"},
		{"hard link out", []tarEntry{{name: "h", typ: tar.TypeLink, link: "../../etc/passwd"}}, ".."},
		{"symlink out, then a file through it", []tarEntry{
			{name: "l", typ: tar.TypeSymlink, link: outside},
			{name: "l/x", typ: tar.TypeReg, body: "pwned"},
		}, ""},
		{"relative symlink out, then a file through it", []tarEntry{
			{name: "l", typ: tar.TypeSymlink, link: "../.."},
			{name: "l/x", typ: tar.TypeReg, body: "pwned"},
		}, ""},
		{"symlink out, then a directory through it", []tarEntry{
			{name: "l", typ: tar.TypeSymlink, link: outside},
			{name: "l/d/", typ: tar.TypeDir},
		}, ""},
		{"file, then a symlink in its place, then the file again", []tarEntry{
			{name: "f", typ: tar.TypeReg, body: "ok"},
			{name: "f", typ: tar.TypeSymlink, link: outside + "/x"},
			{name: "f", typ: tar.TypeReg, body: "replaces the link, not its target"},
		}, "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent, dir, _, err := extractInto(t, makeTar(t, tt.entries...))
			if tt.wantErr != "-" {
				if err == nil {
					t.Fatal("extracted without an error")
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q does not contain %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			for _, d := range []string{outside, parent} {
				ents, _ := os.ReadDir(d)
				for _, e := range ents {
					if filepath.Join(d, e.Name()) != dir {
						t.Errorf("%s was written outside the directory", filepath.Join(d, e.Name()))
					}
				}
			}
			if tt.wantErr == "-" {
				if b, err := os.ReadFile(filepath.Join(dir, "f")); err != nil || string(b) != "replaces the link, not its target" {
					t.Errorf("f: %q, %v", b, err)
				}
			}
		})
	}
}

func TestEntryName(t *testing.T) {
	good := map[string]string{"./": ".", ".": ".", "./a/b": "a/b", "a//b/": "a/b", "a/./b": "a/b", "..a": "..a", "a b'c": "a b'c"}
	for in, want := range good {
		if got, err := entryName(in); err != nil || got != want {
			t.Errorf("entryName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "/", "/a", "..", "../a", "a/..", "a/../b", "./../a"} {
		if got, err := entryName(bad); err == nil {
			t.Errorf("entryName(%q) = %q, accepted", bad, got)
		}
	}
}

func TestSumsRoundTrip(t *testing.T) {
	s := sums{"a": sha("a"), "sub/b c": sha("b"), `back\slash`: sha("c"), "new\nline": sha("d")}
	text := s.marshal()
	if !bytes.Contains(text, []byte(`\`+sha("c")+`  back\\slash`+"\n")) || !bytes.Contains(text, []byte(`\`+sha("d")+`  new\nline`+"\n")) {
		t.Errorf("names are not escaped as GNU sha256sum does:\n%s", text)
	}
	got, err := parseSums(text)
	if err != nil {
		t.Fatal(err)
	}
	if err := got.compare(s); err != nil {
		t.Error(err)
	}
	if err := s.compare(got); err != nil {
		t.Error(err)
	}
	// find's "./" prefix and the binary marker are understood.
	got, err = parseSums([]byte(sha("a") + "  ./a\n" + sha("b") + " *./sub/b c\n"))
	if err != nil || got["a"] != sha("a") || got["sub/b c"] != sha("b") {
		t.Errorf("got %v, %v", got, err)
	}
	for _, bad := range []string{"nope\n", sha("a") + "  ../x\n", sha("a") + "x ./a\n", strings.ToUpper(sha("a")) + "  a\n"} {
		if _, err := parseSums([]byte(bad)); err == nil {
			t.Errorf("parseSums(%q) accepted", bad)
		}
	}
}

func TestSumsCompare(t *testing.T) {
	want := sums{"a": sha("a"), "b": sha("b")}
	for _, tt := range []struct {
		got  sums
		word string
	}{
		{sums{"a": sha("a")}, "not in the archive"},
		{sums{"a": sha("a"), "b": sha("x")}, "checksum mismatch"},
		{sums{"a": sha("a"), "b": sha("b"), "c": sha("c")}, "not listed"},
	} {
		if err := tt.got.compare(want); err == nil || !strings.Contains(err.Error(), tt.word) {
			t.Errorf("compare(%v): %v, want %q", tt.got, err, tt.word)
		}
	}
}

// TestWriteTreeThenExtract: a scanned tree written for the instance reads back as the same
// tree, with the sums in m.
func TestWriteTreeThenExtract(t *testing.T) {
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "sub", "deeper"), 0o755)
	os.WriteFile(filepath.Join(src, "sub", "deeper", "x"), []byte("x"), 0o600)
	os.WriteFile(filepath.Join(src, "run.sh"), []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(src, strings.Repeat("long", 40)), []byte("a long name"), 0o644)
	os.Symlink("run.sh", filepath.Join(src, "link"))
	entries, total, err := scanTree(src, func(p string) { t.Errorf("skipped %s", p) })
	if err != nil {
		t.Fatal(err)
	}
	if total != int64(1+len("#!/bin/sh\n")+len("a long name")) {
		t.Errorf("total %d", total)
	}
	var buf, counted bytes.Buffer
	files, err := writeTree(&buf, entries, &counted)
	if err != nil || files != 3 || int64(counted.Len()) != total {
		t.Fatalf("files %d, counted %d, %v", files, counted.Len(), err)
	}
	tr := tar.NewReader(&buf)
	var names []string
	var m []byte
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, hdr.Name)
		if hdr.Name == "m" {
			m, _ = io.ReadAll(tr)
		}
	}
	if names[0] != "d/" || names[len(names)-1] != "m" {
		t.Errorf("entries %q: want d/ first and m last", names)
	}
	got, err := parseSums(m)
	if err != nil {
		t.Fatal(err)
	}
	want := sums{"sub/deeper/x": sha("x"), "run.sh": sha("#!/bin/sh\n"), strings.Repeat("long", 40): sha("a long name")}
	if err := got.compare(want); err != nil {
		t.Error(err)
	}
}

func TestReadHeader(t *testing.T) {
	h, err := readHeader(bufio.NewReader(strings.NewReader("ecsterm-cp f 12 4755 a b\x00rest")))
	if err != nil || h.kind != 'f' || h.size != 12 || h.mode != 0o755 || h.name != "a b" {
		t.Errorf("got %+v, %v", h, err)
	}
	for _, bad := range []string{"", "motd\necsterm-cp f 1 644 a\x00", "ecsterm-cp x 1 644 a\x00", "ecsterm-cp f one 644 a\x00", "ecsterm-cp f 1 9 a\x00", "ecsterm-cp f 1 644 a"} {
		if h, err := readHeader(bufio.NewReader(strings.NewReader(bad))); err == nil {
			t.Errorf("readHeader(%q) = %+v, accepted", bad, h)
		}
	}
}

func TestCheckBaseName(t *testing.T) {
	for _, ok := range []string{"a", "a b", ".hidden", "it's"} {
		if err := checkBaseName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", "a/b", "/"} {
		if checkBaseName(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
