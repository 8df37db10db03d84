package cmdutil

import "github.com/ecsterm/ecsterm/internal/target"

// ExpandAlias is target.ExpandAlias with the aliases of f's configuration; without a
// configuration (or with one that fails to load, which the command reports itself) s comes back
// unchanged.
func ExpandAlias(f *Factory, s string) string {
	if f == nil || f.Config == nil {
		return s
	}
	cfg, err := f.Config()
	if err != nil {
		return s
	}
	return target.ExpandAlias(s, cfg.Aliases())
}
