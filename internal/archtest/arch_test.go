// Package archtest holds the test that keeps the module's dependency rules: which packages may
// import which. It reads `go list -json` for every package of the module, for each target OS.
package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/ecsterm/ecsterm"

const (
	sdk   = "github.com/alibabacloud-go/ecs-20140526" // the ECS SDK, and everything under it
	cobra = "github.com/spf13/cobra"
	viper = "github.com/spf13/viper"
)

// pkgInfo is the part of `go list -json` the rules read.
type pkgInfo struct {
	ImportPath   string
	Dir          string
	Files        []string `json:"GoFiles"`
	Ignored      []string `json:"IgnoredGoFiles"`
	TestFiles    []string `json:"TestGoFiles"`
	XTestFiles   []string `json:"XTestGoFiles"`
	Imports      []string
	TestImports  []string
	XTestImports []string
}

// edge is one import: from imports to, in its code or (test) in its tests.
type edge struct {
	from, to string
	test     bool
}

func (e edge) String() string {
	s := rel(e.from) + " imports " + rel(e.to)
	if e.test {
		s += " (in tests)"
	}
	return s
}

// rule is one dependency rule; broken reports why an import breaks it, or "" if it does not.
type rule struct {
	name   string
	broken func(from, to string) bool
	// codeOnly leaves tests out of the rule: a test may fake what its code reaches through a seam.
	codeOnly bool
}

// rules are the module's dependency rules (see README, Architecture).
var rules = []rule{
	{"pkg/ is free of internal/, cobra and viper", func(from, to string) bool {
		return under(from, module+"/pkg") && (under(to, module+"/internal") || under(to, cobra) || under(to, viper))
	}, false},
	{"command packages do not import each other or internal/cli", func(from, to string) bool {
		if !under(from, module+"/internal/cmd") {
			return false
		}
		return under(to, module+"/internal/cli") || under(to, module+"/internal/cmd") && command(to) != command(from)
	}, false},
	{"only internal/config imports viper", func(from, to string) bool {
		return under(to, viper) && !under(from, module+"/internal/config")
	}, false},
	{"only internal/cloud imports the ECS SDK", func(from, to string) bool {
		return under(to, sdk) && !under(from, module+"/internal/cloud")
	}, false},
	{"internal/target imports no cobra, cmdutil or iostreams (only its picker uses iostreams)", func(from, to string) bool {
		if !under(from, module+"/internal/target") {
			return false
		}
		return under(to, cobra) || under(to, module+"/internal/cmdutil") ||
			under(to, module+"/internal/iostreams") && !under(from, module+"/internal/target/picker")
	}, false},
	{"internal/text imports nothing of the module", func(from, to string) bool {
		return under(from, module+"/internal/text") && under(to, module)
	}, false},
	{"commands reach instances only through the Sessions seam: no command imports pkg/session or pkg/rexec", func(from, to string) bool {
		return under(from, module+"/internal/cmd") && (under(to, module+"/pkg/session") || under(to, module+"/pkg/rexec"))
	}, true},
}

// exceptions are the imports that break a rule today, each with why it is allowed for now.
// Remove an entry when its import goes; the test fails on an exception no longer needed.
var exceptions = map[string]string{
	// The emulator's tests drive it with the real SDK client, to prove it answers what the SDK
	// sends and parses; the emulator itself does not import the SDK.
	"internal/emulator imports github.com/alibabacloud-go/ecs-20140526/v7/client (in tests)": "emulator tests use the real SDK",
	// completion_test.go drives dynamic completion the way a shell does, through the whole
	// command tree (`ecsterm __complete ...`), so it runs cli.Run; only its tests do.
	"internal/cmd/completion imports internal/cli (in tests)": "completion tests run the whole CLI",
}

func TestDependencyRules(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go is not on PATH: cannot list the module's packages")
	}
	edges := map[edge]bool{}
	for _, goos := range []string{"linux", "darwin", "windows"} {
		pkgs, err := list(goos)
		if err != nil {
			t.Fatalf("GOOS=%s go list: %v", goos, err)
		}
		if len(pkgs) < 10 {
			t.Fatalf("GOOS=%s go list found only %d packages", goos, len(pkgs))
		}
		for _, p := range pkgs {
			p.stat()
			for _, to := range p.Imports {
				edges[edge{p.ImportPath, to, false}] = true
			}
			for _, to := range slices.Concat(p.TestImports, p.XTestImports) {
				if to != p.ImportPath {
					edges[edge{p.ImportPath, to, true}] = true
				}
			}
		}
	}
	used := map[string]bool{}
	var broken []string
	for e := range edges {
		for _, r := range rules {
			if !r.broken(e.from, e.to) || e.test && r.codeOnly {
				continue
			}
			if _, ok := exceptions[e.String()]; ok {
				used[e.String()] = true
				continue
			}
			broken = append(broken, fmt.Sprintf("%s: %s", r.name, e))
		}
	}
	sort.Strings(broken)
	for _, b := range broken {
		t.Error(b)
	}
	for e := range exceptions {
		if !used[e] {
			t.Errorf("exception %q no longer happens: remove it", e)
		}
	}
}

// TestRulesCatchBreaks checks each rule against an import it forbids and one it allows, so a
// rule cannot silently stop matching.
func TestRulesCatchBreaks(t *testing.T) {
	m := module + "/"
	tests := []struct {
		rule     int
		from, to string
		broken   bool
	}{
		{0, m + "pkg/session", m + "internal/cloud", true},
		{0, m + "pkg/session", cobra, true},
		{0, m + "pkg/forward", m + "pkg/session", false},
		{1, m + "internal/cmd/cp", m + "internal/cmd/exec", true},
		{1, m + "internal/cmd/cp", m + "internal/cli", true},
		{1, m + "internal/cmd/completion/x", m + "internal/cmd/completion", false},
		{1, m + "internal/cmd/cp", m + "internal/attach", false},
		{2, m + "internal/cli", viper, true},
		{2, m + "internal/config", viper, false},
		{3, m + "internal/emulator", sdk + "/v7/client", true},
		{3, m + "internal/cloud", sdk + "/v7/client", false},
		{4, m + "internal/target", cobra, true},
		{4, m + "internal/target", m + "internal/cmdutil", true},
		{4, m + "internal/target", m + "internal/iostreams", true},
		{4, m + "internal/target/cache", m + "internal/cmdutil", true},
		{4, m + "internal/target/picker", m + "internal/iostreams", false},
		{4, m + "internal/target", m + "internal/text", false},
		{4, m + "internal/complete", cobra, false},
		{5, m + "internal/text", m + "internal/cloud", true},
		{5, m + "internal/text", "unicode", false},
		{6, m + "internal/cmd/exec", m + "pkg/session", true},
		{6, m + "internal/cmd/persist", m + "pkg/rexec", true},
		{6, m + "internal/cmd/exec", m + "internal/attach", false},
		{6, m + "internal/persist", m + "pkg/rexec", false},
	}
	for _, tt := range tests {
		if got := rules[tt.rule].broken(tt.from, tt.to); got != tt.broken {
			t.Errorf("%s: %s -> %s broken = %v, want %v", rules[tt.rule].name, tt.from, tt.to, got, tt.broken)
		}
	}
}

// stat looks at p's directory and source files, only so that `go test` caches this test's
// result against them: it cannot see what the go list it runs reads.
func (p pkgInfo) stat() {
	if p.Dir == "" {
		return
	}
	_, _ = os.Stat(p.Dir)
	for _, f := range slices.Concat(p.Files, p.Ignored, p.TestFiles, p.XTestFiles) {
		_, _ = os.Stat(filepath.Join(p.Dir, f))
	}
}

// list runs `go list -json` over the module for goos.
func list(goos string) ([]pkgInfo, error) {
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Dir,GoFiles,IgnoredGoFiles,TestGoFiles,XTestGoFiles,Imports,TestImports,XTestImports", module+"/...")
	cmd.Env = append(os.Environ(), "GOOS="+goos)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	var pkgs []pkgInfo
	for d := json.NewDecoder(bytes.NewReader(out)); ; {
		var p pkgInfo
		if err := d.Decode(&p); errors.Is(err, io.EOF) {
			return pkgs, nil
		} else if err != nil {
			return nil, err
		}
		pkgs = append(pkgs, p)
	}
}

// under reports whether import path p is path or below it.
func under(p, path string) bool { return p == path || strings.HasPrefix(p, path+"/") }

// command names the command a package under internal/cmd belongs to: its first element there.
func command(p string) string {
	c, _, _ := strings.Cut(strings.TrimPrefix(p, module+"/internal/cmd/"), "/")
	return c
}

// rel shortens an import path of the module for messages.
func rel(p string) string {
	if r, ok := strings.CutPrefix(p, module+"/"); ok {
		return r
	}
	return p
}
