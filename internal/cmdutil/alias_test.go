package cmdutil

import (
	"errors"
	"testing"

	"github.com/spf13/pflag"

	"github.com/ecsterm/ecsterm/internal/config"
)

func TestExpandAlias(t *testing.T) {
	file := t.TempDir() + "/config.yaml"
	if err := config.Set(file, "alias.web", "admin@i-bp1abc"); err != nil {
		t.Fatal(err)
	}
	withAliases := &Factory{Config: func() (*config.Config, error) {
		return config.Load(pflag.NewFlagSet("x", pflag.ContinueOnError), file)
	}}
	broken := &Factory{Config: func() (*config.Config, error) { return nil, errors.New("bad config") }}
	for _, tt := range []struct {
		f        *Factory
		in, want string
	}{
		{withAliases, "web", "admin@i-bp1abc"},
		{withAliases, "root@web", "root@i-bp1abc"},
		{withAliases, "db", "db"},
		{broken, "web", "web"},     // the command reports the config itself
		{&Factory{}, "web", "web"}, // no configuration
		{nil, "web", "web"},
	} {
		if got := ExpandAlias(tt.f, tt.in); got != tt.want {
			t.Errorf("ExpandAlias(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
