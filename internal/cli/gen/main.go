// Command gen writes ecsterm's shell completion scripts, from the command tree, into a directory
// (completions/ by default). `go generate ./internal/cli` runs it; internal/cli/completions_test.go
// fails when the committed scripts differ from what it would write.
package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ecsterm/ecsterm/internal/cli"
	"github.com/ecsterm/ecsterm/internal/cmd/completion"
	"github.com/ecsterm/ecsterm/internal/iostreams"
)

func main() {
	dir := "completions"
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	if err := write(dir); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func write(dir string) error {
	root := cli.NewCmdRoot(iostreams.System(), nil)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for shell, name := range completion.Files() {
		var b bytes.Buffer
		if err := completion.Generate(root, shell, &b, true); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}
