package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ecsterm/ecsterm/internal/cli"
	"github.com/ecsterm/ecsterm/internal/cmd/completion"
	"github.com/ecsterm/ecsterm/internal/iostreams"
)

const regenerate = "regenerate with `go generate ./internal/cli` and commit completions/"

// TestCommittedScriptsAreCurrent fails when a change to the command tree has not been carried
// into completions/, which the release archives and packages ship.
func TestCommittedScriptsAreCurrent(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	root := cli.NewCmdRoot(ios, nil)
	dir := filepath.Join("..", "..", "completions")
	var want []string
	for shell, name := range completion.Files() {
		want = append(want, name)
		var b bytes.Buffer
		if err := completion.Generate(root, shell, &b, true); err != nil {
			t.Fatal(err)
		}
		have, err := os.ReadFile(filepath.Join(dir, name))
		switch {
		case err != nil:
			t.Errorf("completions/%s: %v; %s", name, err, regenerate)
		case !bytes.Equal(have, b.Bytes()):
			t.Errorf("completions/%s is stale; %s", name, regenerate)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !slices.Contains(want, e.Name()) {
			t.Errorf("completions/%s is not generated; remove it or add it to completion.Files", e.Name())
		}
	}
}

// TestCommandPrintsTheCommittedScripts: what `ecsterm completion SHELL` prints is what the
// packages install.
func TestCommandPrintsTheCommittedScripts(t *testing.T) {
	for shell, name := range completion.Files() {
		ios, _, stdout, stderr := iostreams.Test()
		if code := cli.Run(context.Background(), ios, []string{"completion", shell}); code != 0 {
			t.Fatalf("completion %s: exit %d: %s", shell, code, stderr)
		}
		have, err := os.ReadFile(filepath.Join("..", "..", "completions", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(stdout.Bytes(), have) {
			t.Errorf("ecsterm completion %s differs from completions/%s; %s", shell, name, regenerate)
		}
	}
}
