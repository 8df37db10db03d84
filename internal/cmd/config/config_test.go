package config

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/ecsterm/ecsterm/internal/cmdutil"
	cfgpkg "github.com/ecsterm/ecsterm/internal/config"
	"github.com/ecsterm/ecsterm/internal/iostreams"
)

// isolate keeps the machine's settings out: no Alibaba Cloud or ecsterm variables, a fresh home
// and config directory. It returns the home.
func isolate(t *testing.T) string {
	t.Helper()
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		for _, prefix := range []string{"ALIBABA_CLOUD_", "ALIBABACLOUD_", "ALICLOUD_", "ECSTERM_"} {
			if strings.HasPrefix(name, prefix) {
				t.Setenv(name, "")
				os.Unsetenv(name)
			}
		}
	}
	home := t.TempDir()
	for _, name := range []string{"HOME", "USERPROFILE"} {
		t.Setenv(name, home)
	}
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv("AppData", filepath.Join(home, "AppData"))
	t.Setenv("XDG_CACHE_HOME", filepath.Join(home, ".cache"))
	return home
}

// root mirrors internal/cli's root: its persistent flags, and Config loaded from them.
func root(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	var file string
	r := &cobra.Command{Use: "ecsterm", SilenceUsage: true, SilenceErrors: true}
	pf := r.PersistentFlags()
	pf.String("profile", "", "")
	pf.String("region", "", "")
	pf.String("endpoint", "", "")
	pf.StringP("output", "o", "text", "")
	pf.BoolP("quiet", "q", false, "")
	pf.Bool("debug", false, "")
	pf.StringVar(&file, "config", "", "")
	f.Config = cmdutil.Once(func() (*cfgpkg.Config, error) { return cfgpkg.Load(pf, file) })
	r.AddCommand(NewCmdConfig(f, runF))
	return r
}

type result struct {
	stdout, stderr string
	err            error
}

func run(t *testing.T, tty bool, args ...string) result {
	t.Helper()
	ios, _, stdout, stderr := iostreams.Test()
	ios.SetTTY(false, tty, tty)
	r := root(&cmdutil.Factory{IOStreams: ios}, nil)
	r.SetArgs(args)
	r.SetOut(stdout)
	r.SetErr(stderr)
	_, err := r.ExecuteC()
	return result{stdout.String(), stderr.String(), err}
}

func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := cfgpkg.DefaultFile()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestParse(t *testing.T) {
	tests := []struct {
		args      []string
		sub       string
		key, val  string
		wantUsage string
	}{
		{args: []string{"config"}, sub: "list"},
		{args: []string{"config", "list"}, sub: "list"},
		{args: []string{"config", "get", "region"}, sub: "get", key: "region"},
		{args: []string{"config", "get", "aliases"}, sub: "get", key: "aliases"},
		{args: []string{"config", "get", "alias.web"}, sub: "get", key: "alias.web"},
		{args: []string{"config", "set", "escape", "^]"}, sub: "set", key: "escape", val: "^]"},
		{args: []string{"config", "set", "alias.web", "root@i-bp1abc"}, sub: "set", key: "alias.web", val: "root@i-bp1abc"},
		{args: []string{"config", "set", "endpoint", "http://127.0.0.1:8080"}, sub: "set", key: "endpoint", val: "http://127.0.0.1:8080"},
		{args: []string{"config", "unset", "alias.web"}, sub: "unset", key: "alias.web"},
		{args: []string{"config", "path"}, sub: "path"},
		{args: []string{"config", "get"}, wantUsage: "takes 1 argument"},
		{args: []string{"config", "get", "colour"}, wantUsage: `unknown key "colour"`},
		{args: []string{"config", "set", "region"}, wantUsage: "takes 2 argument"},
		{args: []string{"config", "set", "output", "yaml"}, wantUsage: "text or json"},
		{args: []string{"config", "set", "escape", "ab"}, wantUsage: "escape character"},
		{args: []string{"config", "set", "quiet", "yes please"}, wantUsage: "true or false"},
		{args: []string{"config", "set", "endpoint", "http://ecs.example.com"}, wantUsage: "plain http"},
		{args: []string{"config", "set", "alias.i-bp1abc", "web"}, wantUsage: "would be read as an instance ID"},
		{args: []string{"config", "set", "alias.10.0.0.1", "web"}, wantUsage: "would be read as an instance ID"},
		{args: []string{"config", "set", "alias.web", "tag:"}, wantUsage: "no tag key"},
		{args: []string{"config", "set", "alias.web", "@i-abc"}, wantUsage: "no user before @"},
		{args: []string{"config", "set", "alias.we b", "i-abc"}, wantUsage: "alias name"},
		{args: []string{"config", "set", "aliases", "x"}, wantUsage: "alias.NAME"},
		{args: []string{"config", "unset", "colour"}, wantUsage: "unknown key"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			isolate(t)
			ios, _, _, _ := iostreams.Test()
			var got *Options
			r := root(&cmdutil.Factory{IOStreams: ios}, func(_ context.Context, o *Options) error {
				got = o
				return nil
			})
			r.SetArgs(tt.args)
			_, err := r.ExecuteC()
			if tt.wantUsage != "" {
				var fe *cmdutil.FlagError
				if !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.wantUsage) {
					t.Fatalf("err = %v (%T), want a usage error with %q", err, err, tt.wantUsage)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Sub != tt.sub || got.Key != tt.key || got.Value != tt.val || got.Store == nil {
				t.Errorf("got %s %q %q (store %v), want %s %q %q", got.Sub, got.Key, got.Value, got.Store, tt.sub, tt.key, tt.val)
			}
			if got.File != cfgpkg.DefaultFile() {
				t.Errorf("File = %q, want the default %q", got.File, cfgpkg.DefaultFile())
			}
		})
	}
}

func TestUnknownSubcommand(t *testing.T) {
	isolate(t)
	if res := run(t, false, "config", "bogus"); res.err == nil || !strings.HasPrefix(res.err.Error(), "unknown command") {
		t.Errorf("err = %v, want cobra's unknown command", res.err)
	}
}

func TestList(t *testing.T) {
	isolate(t)
	path := writeConfig(t, "region: cn-beijing\nescape: '^]'\naliases:\n  web: admin@i-bp1abc\n  db: tag:role=db\n")
	t.Setenv("ECSTERM_OUTPUT", "text")

	res := run(t, false, "config")
	if res.err != nil {
		t.Fatal(res.err)
	}
	want := strings.Join([]string{
		"profile\t-\tdefault",
		"region\tcn-beijing\tfile " + path,
		"endpoint\t-\tdefault",
		"output\ttext\tenv ECSTERM_OUTPUT",
		"quiet\tfalse\tdefault",
		"debug\tfalse\tdefault",
		"escape\t^]\tfile " + path,
		"connection_type\t-\tdefault",
		"record_dir\t-\tdefault",
		"persist\t-\tdefault",
		"alias.db\ttag:role=db\tfile " + path,
		"alias.web\tadmin@i-bp1abc\tfile " + path,
	}, "\n") + "\n"
	if res.stdout != want {
		t.Errorf("config (piped) =\n%s\nwant\n%s", res.stdout, want)
	}

	res = run(t, true, "config", "list", "--region", "us-west-1")
	if res.err != nil {
		t.Fatal(res.err)
	}
	lines := strings.Split(res.stdout, "\n")
	if !strings.HasPrefix(lines[0], "KEY") || !strings.Contains(lines[0], "SOURCE") {
		t.Errorf("no header on a terminal:\n%s", res.stdout)
	}
	if !strings.Contains(res.stdout, "us-west-1") || !regionLine(res.stdout, "flag") {
		t.Errorf("the --region flag is not shown as the source:\n%s", res.stdout)
	}
}

func regionLine(out, source string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "region ") && strings.HasSuffix(strings.TrimSpace(l), source) {
			return true
		}
	}
	return false
}

func TestListJSON(t *testing.T) {
	home := isolate(t)
	writeFile := filepath.Join(home, "elsewhere.yaml")
	if err := os.WriteFile(writeFile, []byte("aliases: {web: i-bp1abc}\nquiet: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	res := run(t, false, "--config", writeFile, "-o", "json", "config")
	if res.err != nil {
		t.Fatal(res.err)
	}
	var got map[string]struct {
		Value  any    `json:"value"`
		Source string `json:"source"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, res.stdout)
	}
	if len(got) != len(cfgpkg.Keys()) {
		t.Errorf("%d keys, want %d:\n%s", len(got), len(cfgpkg.Keys()), res.stdout)
	}
	checks := map[string][2]any{
		"output":  {"json", "flag"},
		"quiet":   {true, "file " + writeFile},
		"escape":  {"~", "default"},
		"aliases": {map[string]any{"web": "i-bp1abc"}, "file " + writeFile},
		"region":  {"", "default"},
	}
	for key, want := range checks {
		if !reflect.DeepEqual(got[key].Value, want[0]) || got[key].Source != want[1] {
			t.Errorf("%s = %#v from %q, want %#v from %q", key, got[key].Value, got[key].Source, want[0], want[1])
		}
	}
	// The keys come in display order.
	last := -1
	for _, key := range cfgpkg.Keys() {
		i := strings.Index(res.stdout, `"`+key+`"`)
		if i < last {
			t.Errorf("%s out of order:\n%s", key, res.stdout)
		}
		last = i
	}
}

func TestGet(t *testing.T) {
	isolate(t)
	path := writeConfig(t, "region: cn-beijing\naliases:\n  web: admin@i-bp1abc\n  db: tag:role=db\n")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"region"}, "cn-beijing\n"},
		{[]string{"REGION"}, "cn-beijing\n"},
		{[]string{"escape"}, "~\n"},
		{[]string{"quiet"}, "false\n"},
		{[]string{"endpoint"}, "\n"},
		{[]string{"alias.web"}, "admin@i-bp1abc\n"},
		{[]string{"aliases"}, "db\ttag:role=db\nweb\tadmin@i-bp1abc\n"},
		{[]string{"-o", "json", "alias.db"}, `{"key":"alias.db","value":"tag:role=db","source":"file ` + path + `"}`},
		{[]string{"-o", "json", "region"}, `{"key":"region","value":"cn-beijing","source":"file ` + path + `"}`},
	} {
		res := run(t, false, append([]string{"config", "get"}, tt.args...)...)
		if res.err != nil {
			t.Fatalf("get %v: %v", tt.args, res.err)
		}
		got := res.stdout
		if strings.HasPrefix(tt.want, "{") {
			var b bytes.Buffer
			_ = json.Compact(&b, []byte(got))
			got = b.String()
		}
		if got != tt.want {
			t.Errorf("get %v = %q, want %q", tt.args, got, tt.want)
		}
	}
	res := run(t, false, "config", "get", "alias.nope")
	var fe *cmdutil.FlagError
	if res.err == nil || errors.As(res.err, &fe) || !strings.Contains(res.err.Error(), `alias "nope" is not set`) {
		t.Errorf("get alias.nope = %v, want a plain error", res.err)
	}
}

func TestSetAndUnset(t *testing.T) {
	isolate(t)
	path := cfgpkg.DefaultFile()
	for _, kv := range [][2]string{{"region", "cn-shanghai"}, {"escape", "~"}, {"alias.web", "admin@i-bp1abc"}, {"output", "json"}} {
		if res := run(t, false, "config", "set", kv[0], kv[1]); res.err != nil || res.stdout != "" || res.stderr != "" {
			t.Fatalf("set %s %s: %v, stdout %q, stderr %q", kv[0], kv[1], res.err, res.stdout, res.stderr)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("%s has mode %o: readable by others", path, fi.Mode().Perm())
	}
	cfg, err := cfgpkg.Load(root(&cmdutil.Factory{}, nil).PersistentFlags(), "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "cn-shanghai" || cfg.Escape() != "~" || cfg.Output != "json" || cfg.Aliases()["web"] != "admin@i-bp1abc" {
		t.Errorf("after set: %+v escape %q aliases %v", cfg, cfg.Escape(), cfg.Aliases())
	}

	// A variable that overrides the file is named, so nobody wonders why nothing changed.
	t.Setenv("ALIBABA_CLOUD_REGION_ID", "eu-central-1")
	res := run(t, false, "config", "set", "region", "cn-hangzhou")
	if res.err != nil || !strings.Contains(res.stderr, "but env ALIBABA_CLOUD_REGION_ID overrides it") {
		t.Errorf("set under an env override: %v, stderr %q", res.err, res.stderr)
	}
	if res := run(t, false, "-q", "config", "set", "region", "cn-hangzhou"); res.stderr != "" {
		t.Errorf("-q still printed %q", res.stderr)
	}

	if res := run(t, false, "config", "unset", "alias.web"); res.err != nil {
		t.Fatal(res.err)
	}
	res = run(t, false, "config", "unset", "alias.web")
	if res.err == nil || !errors.Is(res.err, cfgpkg.ErrNotSet) {
		t.Errorf("unset twice = %v, want ErrNotSet", res.err)
	}
	if res := run(t, false, "config", "get", "alias.web"); res.err == nil {
		t.Error("the alias is still there")
	}
}

// TestSetRepairsABrokenConfig: a value that makes every command fail can still be fixed.
func TestSetRepairsABrokenConfig(t *testing.T) {
	isolate(t)
	writeConfig(t, "output: xml\n")
	if res := run(t, false, "config"); res.err == nil || !strings.Contains(res.err.Error(), "text or json") {
		t.Fatalf("config with a broken file = %v", res.err)
	}
	if res := run(t, false, "config", "set", "output", "text"); res.err != nil {
		t.Fatalf("set could not repair: %v", res.err)
	}
	if res := run(t, false, "config", "get", "output"); res.err != nil || res.stdout != "text\n" {
		t.Errorf("after repair: %q %v", res.stdout, res.err)
	}
}

func TestPath(t *testing.T) {
	home := isolate(t)
	if res := run(t, false, "config", "path"); res.stdout != cfgpkg.DefaultFile()+"\n" {
		t.Errorf("path = %q, want %q", res.stdout, cfgpkg.DefaultFile())
	}
	other := filepath.Join(home, "other.yaml")
	if res := run(t, false, "--config", other, "config", "path"); res.stdout != other+"\n" {
		t.Errorf("path with --config = %q", res.stdout)
	}
	if res := run(t, false, "--config", other, "config", "set", "region", "r"); res.err != nil {
		t.Fatal(res.err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("set did not write the --config file: %v", err)
	}
}

func TestCompletion(t *testing.T) {
	isolate(t)
	writeConfig(t, "aliases: {web: i-bp1abc}\n")
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"config", "get", ""}, []string{"profile", "region", "endpoint", "output", "quiet", "debug", "escape", "connection_type", "record_dir", "persist", "aliases", "alias.web"}},
		{[]string{"config", "unset", "alias"}, []string{"alias.web"}},
		{[]string{"config", "set", "re"}, []string{"region", "record_dir"}},
		{[]string{"config", "set", "connection_type", "intr"}, []string{"intranet"}},
		{[]string{"config", "set", "al"}, []string{"alias.web", "alias."}},
		{[]string{"config", "set", "output", ""}, []string{"text", "json"}},
		{[]string{"config", "set", "alias.db", "we"}, []string{"web"}},
		{[]string{"config", "set", "region", "x", ""}, nil},
	} {
		res := run(t, false, append([]string{cobra.ShellCompRequestCmd}, tt.args...)...)
		if res.err != nil {
			t.Fatal(res.err)
		}
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(res.stdout), "\n") {
			if strings.HasPrefix(l, ":") {
				break
			}
			v, _, _ := strings.Cut(l, "\t")
			got = append(got, v)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("complete %q = %q, want %q", tt.args, got, tt.want)
		}
	}
}

// TestHelpNamesEveryKey: the help's list of keys names every key there is (aliases as
// alias.NAME), so a new key cannot go undocumented.
func TestHelpNamesEveryKey(t *testing.T) {
	long := NewCmdConfig(&cmdutil.Factory{}, nil).Long
	_, keys, _ := strings.Cut(long, "\nKeys:\n")
	keys, _, _ = strings.Cut(keys, "\n\n")
	for _, key := range cfgpkg.Keys() {
		if key == "aliases" {
			key = "alias.NAME"
		}
		if !strings.Contains(keys, "\n  "+key+" ") && !strings.Contains(keys, "\n  "+key+"\n") && !strings.HasPrefix(keys, "  "+key+" ") {
			t.Errorf("the help's keys do not name %s:\n%s", key, keys)
		}
	}
}
