//go:build linux

package e2e

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// readSourcesOnce reads every Go source of the module outside e2e, and go.mod and go.sum. The tests
// run a binary that TestMain builds from ../cmd/ecsterm, and go test's cache does not see that
// build's inputs: it keys a cached result on the test binary and on the files the test process
// itself opened. Reading the sources here makes them part of that key, so a change to ecsterm's
// code reruns these tests instead of leaving an earlier cached PASS standing. The reads must
// happen while tests run (the log of opened files starts in testing.M.Run, and in the process
// that runs the tests, the one in the network namespace), so the harness does it, once. It
// returns how many files it read.
func readSourcesOnce() int {
	sources.once.Do(func() { sources.n = readSources() })
	return sources.n
}

var sources struct {
	once sync.Once
	n    int
}

func readSources() (n int) {
	_ = filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return nil
		case d.IsDir() && (d.Name() == "e2e" || strings.HasPrefix(d.Name(), ".") && path != ".."):
			return filepath.SkipDir
		case d.IsDir():
			return nil
		case strings.HasSuffix(path, ".go") || d.Name() == "go.mod" || d.Name() == "go.sum":
			if _, err := os.ReadFile(path); err == nil {
				n++
			}
		}
		return nil
	})
	return n
}
