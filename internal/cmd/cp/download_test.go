package cp

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLocalName(t *testing.T) {
	tests := map[string]string{
		"/tmp/report.txt": "report.txt",
		"/tmp/":           "tmp",
		"/etc/nginx//":    "nginx",
		"report.txt":      "report.txt",
		"-n":              "-n",
		"~/conf/":         "conf",
		".":               ".",
		"/srv/site/.":     ".",
		"~/.":             ".",
		"":                "",
		"~":               "",
		"~/":              "",
		"/":               "",
		"//":              "",
		"/tmp/..":         "",
		"..":              "",
	}
	for in, want := range tests {
		if got := localName(in); got != want {
			t.Errorf("localName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheckHeader(t *testing.T) {
	c := &copier{opts: &Options{Src: Location{Instance: "i-x", Path: "/tmp/report.txt"}}}
	cr := &copier{opts: &Options{Src: Location{Instance: "i-x", Path: "/srv/."}, Recursive: true}}
	tests := []struct {
		c    *copier
		h    header
		name string
		ok   bool
	}{
		{c, header{kind: 'f', name: "report.txt"}, "report.txt", true},
		{c, header{kind: 'f', name: ".bashrc"}, "report.txt", false},
		{c, header{kind: 'f', name: "report.txt/../x"}, "report.txt", false},
		{c, header{kind: 'd', name: "report.txt"}, "report.txt", false}, // no -r
		{c, header{kind: 'f', name: "whatever"}, "", true},              // the user names the copy
		{cr, header{kind: 'd', name: "."}, ".", true},
		{cr, header{kind: 'f', name: "."}, ".", false},
		{cr, header{kind: 'd', name: ".ssh"}, ".", false},
	}
	for _, tt := range tests {
		err := tt.c.checkHeader(tt.h, tt.name)
		var r *refusal
		if (err == nil) != tt.ok || err != nil && !errors.As(err, &r) {
			t.Errorf("checkHeader(%c %q) for %q: %v", tt.h.kind, tt.h.name, tt.name, err)
		}
	}
}

// TestPlaceFollowsNoLink: a merge into an existing tree refuses a link where the copy has a
// directory (one to outside, and one to inside, the destination), before anything moves.
func TestPlaceFollowsNoLink(t *testing.T) {
	for _, inside := range []bool{false, true} {
		dir, outside := t.TempDir(), t.TempDir()
		os.MkdirAll(filepath.Join(dir, "tree", "real"), 0o755)
		os.WriteFile(filepath.Join(dir, "tree", "a"), []byte("old"), 0o644)
		link := outside
		if inside {
			link = "real"
		}
		os.Symlink(link, filepath.Join(dir, "tree", "evil"))
		tmp := filepath.Join(dir, ".ecsterm-1.part")
		os.MkdirAll(filepath.Join(tmp, "evil"), 0o755)
		os.WriteFile(filepath.Join(tmp, "a"), []byte("new"), 0o644)
		os.WriteFile(filepath.Join(tmp, "evil", "important.conf"), []byte("planted"), 0o644)

		err := place(&received{hdr: header{kind: 'd'}, tmp: tmp}, dir, "tree")
		if err == nil || !strings.Contains(err.Error(), "symbolic link") {
			t.Errorf("link to inside %v: %v", inside, err)
		}
		if names(t, outside) != "" || names(t, filepath.Join(dir, "tree", "real")) != "" {
			t.Errorf("link to inside %v: written through the link", inside)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "tree", "a")); string(b) != "old" {
			t.Errorf("link to inside %v: a refused merge moved a file", inside)
		}
	}
}

// TestPlaceReplacesLinks: a file replaces a link of its name, and a copy onto a link where
// its top directory would go is refused.
func TestPlaceReplacesLinks(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(outside, "f"), []byte("theirs"), 0o644)
	os.Symlink(filepath.Join(outside, "f"), filepath.Join(dir, "f"))
	os.WriteFile(filepath.Join(dir, ".ecsterm-1.part"), []byte("mine"), 0o644)
	if err := place(&received{hdr: header{kind: 'f'}, tmp: filepath.Join(dir, ".ecsterm-1.part")}, dir, "f"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(outside, "f")); string(b) != "theirs" {
		t.Errorf("written through the link: %q", b)
	}
	if fi, err := os.Lstat(filepath.Join(dir, "f")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("the link was not replaced: %v %v", fi, err)
	}

	os.Symlink(outside, filepath.Join(dir, "tree"))
	os.MkdirAll(filepath.Join(dir, ".ecsterm-2.part", "x"), 0o755)
	err := place(&received{hdr: header{kind: 'd'}, tmp: filepath.Join(dir, ".ecsterm-2.part")}, dir, "tree")
	if err == nil || !strings.Contains(err.Error(), "symbolic link") || names(t, outside) != "f" {
		t.Errorf("a tree onto a link: %v; outside holds %s", err, names(t, outside))
	}
}

// TestPlaceContents: "." merges a tree's contents into the directory itself.
func TestPlaceContents(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "keep"), nil, 0o644)
	tmp := filepath.Join(dir, ".ecsterm-1.part")
	os.MkdirAll(filepath.Join(tmp, "sub"), 0o755)
	os.WriteFile(filepath.Join(tmp, "sub", "f"), []byte("x"), 0o644)
	if err := place(&received{hdr: header{kind: 'd'}, tmp: tmp}, dir, "."); err != nil {
		t.Fatal(err)
	}
	if got := names(t, dir); got != "keep,sub" {
		t.Errorf("directory holds %s", got)
	}
}
