// Package complete is the shell completion of targets: aliases, and instance IDs and names from
// the completion cache, as cobra completion functions for the commands.
package complete

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/target"
	"github.com/ecsterm/ecsterm/internal/target/cache"
	"github.com/ecsterm/ecsterm/internal/text"
)

// Completer offers targets for shell completion: aliases, and instance IDs and names from a
// cache file. It never waits on the API: a fresh cache answers at once; a stale one answers at
// once and starts a refresh in the background; only when there is no cache at all does it wait
// for that refresh, and at most Wait. A slow or failing API therefore costs the shell at most
// Wait once, and nothing after the first list has landed.
type Completer struct {
	// File is the cache; empty means no cache (no region): only aliases are offered.
	File    string
	Aliases map[string]string
	// Refresh starts a refresh of File and returns a channel closed when it ends, or nil when
	// none started (one is already running). Nil means never refresh.
	Refresh func() <-chan struct{}
	MaxAge  time.Duration // zero: cache.MaxAge
	Wait    time.Duration // zero: MaxWait
}

// MaxWait is the longest a completion waits, and only when there is no cache at all.
const MaxWait = 1500 * time.Millisecond

// Complete returns the targets that start with toComplete, each as "target\tdescription".
func (c *Completer) Complete(ctx context.Context, toComplete string) []string {
	var insts []cache.Entry
	if c.File != "" {
		cached, err := cache.Read(c.File)
		age := time.Since(cached.FetchedAt)
		if (err != nil || age < 0 || age >= cmp.Or(c.MaxAge, cache.MaxAge)) && c.Refresh != nil {
			done := c.Refresh()
			if err != nil && done != nil {
				timer := time.NewTimer(cmp.Or(c.Wait, MaxWait))
				select {
				case <-done:
					cached, _ = cache.Read(c.File)
				case <-timer.C:
				case <-ctx.Done():
				}
				timer.Stop()
			}
		}
		insts = cached.Instances
	}
	return candidates(insts, c.Aliases, toComplete)
}

// candidates builds the completions: aliases first, then names, then IDs; "tag:" completes tags
// and "name:" names only. A user@ typed before is kept. Names that Parse would read as an ID or
// IP address get "name:", and names with spaces or control characters are left out: the shell
// could not offer them intact.
func candidates(insts []cache.Entry, aliases map[string]string, toComplete string) []string {
	user, rest := target.SplitUser(toComplete)
	prefix := ""
	if strings.Contains(toComplete, "@") && !strings.HasPrefix(toComplete, "tag:") && !strings.HasPrefix(toComplete, "name:") {
		prefix = user + "@"
	}
	var out []string
	seen := map[string]bool{}
	add := func(value, desc string) {
		if seen[value] || !strings.HasPrefix(value, rest) || !completable(value) {
			return
		}
		seen[value] = true
		out = append(out, prefix+value+"\t"+text.OneLine(desc))
	}
	switch {
	case strings.HasPrefix(rest, "tag:"):
		count := map[string]int{}
		for _, in := range insts {
			for k, v := range in.Tags {
				count["tag:"+k]++
				count["tag:"+k+"="+v]++
			}
		}
		for _, t := range sortedKeys(count) {
			add(t, plural(count[t], "instance"))
		}
	case strings.HasPrefix(rest, "name:"):
		for _, n := range names(insts) {
			add("name:"+n.name, n.desc)
		}
	default:
		for _, a := range sortedKeys(aliases) {
			add(a, "alias for "+aliases[a])
		}
		for _, n := range names(insts) {
			value := n.name
			if spec, err := target.Parse(value); err != nil || spec.Kind != target.KindName || spec.User != "" {
				value = "name:" + value
			}
			add(value, n.desc)
		}
		for _, in := range insts {
			if target.IsID(in.ID) {
				add(in.ID, strings.TrimSpace(in.Name+" "+paren(in.Status)))
			}
		}
	}
	return out
}

type nameEntry struct{ name, desc string }

// names lists each instance name once, sorted, described by its instance or by how many share it.
func names(insts []cache.Entry) []nameEntry {
	byName := map[string][]cache.Entry{}
	for _, in := range insts {
		if in.Name != "" {
			byName[in.Name] = append(byName[in.Name], in)
		}
	}
	var out []nameEntry
	for _, n := range sortedKeys(byName) {
		desc := plural(len(byName[n]), "instance")
		if len(byName[n]) == 1 {
			in := byName[n][0]
			desc = strings.TrimSpace(in.ID + " " + paren(in.Status))
		}
		out = append(out, nameEntry{n, desc})
	}
	return out
}

func completable(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) })
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func paren(s string) string {
	if s == "" {
		return ""
	}
	return "(" + s + ")"
}

// NewCompleter builds the Completer for the configured account and region: aliases from the
// config, the cache file from cache.Path, and a refresh that runs `ecsterm cache.RefreshCommand` with
// the resolved region, profile and endpoint, so that it lists exactly what this completion
// would. A config that does not load gives a Completer that offers nothing.
func NewCompleter(f *cmdutil.Factory) *Completer {
	if f.Config == nil {
		return &Completer{}
	}
	cfg, err := f.Config()
	if err != nil {
		return &Completer{}
	}
	c := &Completer{Aliases: cfg.Aliases()}
	if cfg.Region == "" {
		return c
	}
	file, err := cache.Path(cfg.Region, cfg.Profile, cfg.Endpoint)
	if err != nil {
		return c
	}
	c.File = file
	args := []string{"--region", cfg.Region}
	for _, fl := range [][2]string{{"--profile", cfg.Profile}, {"--endpoint", cfg.Endpoint}, {"--config", cfg.File}} {
		if fl[1] != "" {
			args = append(args, fl[0], fl[1])
		}
	}
	c.Refresh = func() <-chan struct{} { return cache.Spawn(file, args) }
	return c
}

// Targets is a ValidArgsFunction for commands whose first argument is a target
// (connect, exec, forward, proxy, doctor): cmd.ValidArgsFunction = complete.Targets(f).
// Later arguments get no completion. After a comma (exec's i-aaa,i-bbb) it completes the next
// target. For a flag that takes a target, use TargetFlag.
func Targets(f *cmdutil.Factory) func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	flag := TargetFlag(f)
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return flag(cmd, args, toComplete)
	}
}

// TargetFlag completes a target wherever it appears, for a flag that takes one:
// cmd.RegisterFlagCompletionFunc("target", complete.TargetFlag(f)).
func TargetFlag(f *cmdutil.Factory) func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		head := ""
		if i := strings.LastIndexByte(toComplete, ','); i >= 0 && !strings.HasPrefix(toComplete, "tag:") {
			head, toComplete = toComplete[:i+1], toComplete[i+1:]
		}
		out := NewCompleter(f).Complete(contextOf(cmd), toComplete)
		if head != "" {
			for i := range out {
				out[i] = head + out[i]
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// Copy is cp's ValidArgsFunction, for arguments that are a local path or target:path.
// A word that names local files, or holds a path separator, completes as files; otherwise the
// targets that match complete with a ':' and no space, ready for the remote path; with no
// matching target, local files again. After the ':' it offers nothing (no remote listing).
func Copy(f *cmdutil.Factory) func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		switch {
		case strings.Contains(toComplete, ":"):
			return nil, cobra.ShellCompDirectiveNoFileComp
		case toComplete == "" || strings.ContainsAny(toComplete, `/\`) || localMatches(toComplete):
			return nil, cobra.ShellCompDirectiveDefault
		}
		var out []string
		for _, c := range NewCompleter(f).Complete(contextOf(cmd), toComplete) {
			value, desc, _ := strings.Cut(c, "\t")
			out = append(out, value+":\t"+desc)
		}
		if len(out) == 0 {
			return nil, cobra.ShellCompDirectiveDefault
		}
		return out, cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveNoFileComp
	}
}

// localMatches reports whether files in the working directory start with prefix. A prefix with
// glob characters is left to the shell.
func localMatches(prefix string) bool {
	if strings.ContainsAny(prefix, "*?[") {
		return true
	}
	m, _ := filepath.Glob(prefix + "*")
	return len(m) > 0
}

func contextOf(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}
