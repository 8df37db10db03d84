package attach

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRecordFileName: IDs come from the service, so they cannot choose where the file goes.
func TestRecordFileName(t *testing.T) {
	at := time.Date(2026, 12, 6, 15, 4, 5, 0, time.UTC)
	if got := fileName(at, "i-bp1abc", "s-hz023od0x9"); got != "20261206T150405Z_i-bp1abc_s-hz023od0x9" {
		t.Errorf("fileName = %q", got)
	}
	for _, id := range []string{"../../etc/passwd", "a/b", "s-\x1b[31m", strings.Repeat("x", 500), "", ".."} {
		got := fileName(at, id, id)
		if strings.ContainsAny(got, "/\\\x1b.") || len(got) > 200 || filepath.Base(got) != got {
			t.Errorf("fileName for %q = %q", id, got)
		}
	}
}

// TestRecordDirNeverOverwrites: two sessions with the same name in the same second get two files.
func TestRecordDirNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	r1, _ := NewRecordFile("", dir, false, false, "connect")
	r2, _ := NewRecordFile("", dir, false, false, "connect")
	at := func() time.Time { return time.Date(2026, 12, 6, 15, 4, 5, 0, time.UTC) }
	r1.now, r2.now = at, at
	info := RecordInfo{InstanceID: "i-1", SessionID: "s-1", Cols: 80, Rows: 24}
	if _, err := r1.start(info); err != nil {
		t.Fatal(err)
	}
	if _, err := r2.start(info); err != nil {
		t.Fatal(err)
	}
	r1.Close()
	r2.Close()
	files, _ := filepath.Glob(filepath.Join(dir, "*.cast"))
	if len(files) != 2 || r1.path == r2.path {
		t.Errorf("files %v", files)
	}
	// A file that never got its header (the session did not start) is removed.
	path := filepath.Join(dir, "unused.cast")
	r3, err := NewRecordFile(path, "", false, false, "connect")
	if err != nil {
		t.Fatal(err)
	}
	r3.Close()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("unused recording left behind: %v", err)
	}
}

// TestRecordForceKeepsFileUntilStart: --force overwrites an existing recording only once the
// session starts; a session that never starts leaves the old file as it was.
func TestRecordForceKeepsFileUntilStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.cast")
	if err := os.WriteFile(path, []byte("old recording\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewRecordFile(path, "", false, false, "connect"); err == nil {
		t.Fatal("an existing file was taken without --force")
	}
	r, err := NewRecordFile(path, "", true, false, "connect")
	if err != nil {
		t.Fatal(err)
	}
	r.Close() // the session did not start
	if b, err := os.ReadFile(path); err != nil || string(b) != "old recording\n" {
		t.Fatalf("after a session that did not start: %q, %v; want the old recording", b, err)
	}
	r, err = NewRecordFile(path, "", true, false, "connect")
	if err != nil {
		t.Fatal(err)
	}
	rec, err := r.start(RecordInfo{InstanceID: "i-1", SessionID: "s-1", Cols: 80, Rows: 24})
	if err != nil {
		t.Fatal(err)
	}
	rec.Close()
	r.Close()
	b, err := os.ReadFile(path)
	if err != nil || !strings.HasPrefix(string(b), `{"version":2,`) || strings.Contains(string(b), "old recording") {
		t.Fatalf("after a session: %q, %v; want only the new recording", b, err)
	}
}

// TestRecordIntoDirectory: --record naming a directory says so, rather than asking for --force
// (which could not help).
func TestRecordIntoDirectory(t *testing.T) {
	dir := t.TempDir()
	for _, force := range []bool{false, true} {
		_, err := NewRecordFile(dir, "", force, false, "connect")
		if err == nil || !strings.Contains(err.Error(), "is a directory") || strings.Contains(err.Error(), "--force") {
			t.Errorf("force %v: %v, want an error saying it is a directory", force, err)
		}
	}
}
