//go:build linux

package cp

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecsterm/ecsterm/internal/emulator"
)

func TestBoundedBuffer(t *testing.T) {
	b := &boundedBuffer{max: 5}
	if n, err := b.Write([]byte("abc")); n != 3 || err != nil {
		t.Fatal(n, err)
	}
	if _, err := b.Write([]byte("def")); err != errTooMuch || !b.over || b.String() != "abc" {
		t.Errorf("strict: %v, over %v, kept %q", err, b.over, b.String())
	}
	d := &boundedBuffer{max: 5, drop: true}
	for _, s := range []string{"abc", "def", "g"} {
		if n, err := d.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatal(n, err)
		}
	}
	if !d.over || d.String() != "abcde" {
		t.Errorf("drop: over %v, kept %q", d.over, d.String())
	}
}

// TestDownloadSumsBounded: a download whose stderr (messages and checksums) goes past the
// bound ends with a message and writes nothing, instead of holding all of it in memory.
func TestDownloadSumsBounded(t *testing.T) {
	old := maxSumsText
	maxSumsText = 4 << 10
	t.Cleanup(func() { maxSumsText = old })
	_, opts, _ := testEmulator(t, emulator.Options{})
	local, remote := t.TempDir(), t.TempDir()
	tree := filepath.Join(remote, "tree")
	os.Mkdir(tree, 0o755)
	for i := range 100 { // 100 lines of about 75 bytes: over 4 KiB
		os.WriteFile(filepath.Join(tree, fmt.Sprintf("f%03d", i)), []byte{byte(i)}, 0o644)
	}
	opts.Quiet, opts.Recursive = true, true
	if err := opts.parseArgs("i-emu0demo000000001:"+tree, local); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := cpRun(ctx, opts)
	if err == nil || !strings.Contains(err.Error(), "MiB of checksums") {
		t.Errorf("error %v", err)
	}
	if got := names(t, local); got != "" {
		t.Errorf("left behind: %s", got)
	}
}
