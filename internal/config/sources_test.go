package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func TestSources(t *testing.T) {
	const aliyun = `{"current": "dev", "profiles": [{"name": "dev", "region_id": "cn-hangzhou"}, {"name": "prod", "region_id": "cn-shanghai"}]}`
	tests := []struct {
		name   string
		flags  map[string]string
		env    map[string]string
		file   string
		aliyun string
		want   map[string]string // key → source; "FILE" stands for the file's path
	}{
		{
			name: "all defaults",
			want: map[string]string{"profile": "default", "region": "default", "endpoint": "default", "output": "default",
				"quiet": "default", "debug": "default", "escape": "default", "aliases": "default"},
		},
		{
			name: "each from the file",
			file: "profile: p\nregion: r\nendpoint: https://e.example.com\noutput: json\nquiet: true\ndebug: false\nescape: \"^]\"\naliases: {web: i-abc}\n",
			want: map[string]string{"profile": "FILE", "region": "FILE", "endpoint": "FILE", "output": "FILE",
				"quiet": "FILE", "debug": "FILE", "escape": "FILE", "aliases": "FILE"},
		},
		{
			name: "env beats file and names the variable that won",
			file: "region: r\noutput: json\nescape: '#'\n",
			env:  map[string]string{"ALICLOUD_REGION_ID": "r3", "ECSTERM_REGION": "r4", "ECSTERM_OUTPUT": "text", "ECSTERM_ESCAPE": "%"},
			want: map[string]string{"region": "env ALICLOUD_REGION_ID", "output": "env ECSTERM_OUTPUT", "escape": "env ECSTERM_ESCAPE"},
		},
		{
			name:  "flags beat env",
			flags: map[string]string{"region": "fr", "output": "json", "quiet": "true"},
			env:   map[string]string{"ALIBABA_CLOUD_REGION_ID": "er"},
			want:  map[string]string{"region": "flag", "output": "flag", "quiet": "flag", "debug": "default"},
		},
		{
			name: "empty env is unset",
			file: "endpoint: https://e.example.com\n",
			env:  map[string]string{"ECSTERM_ENDPOINT": ""},
			want: map[string]string{"endpoint": "FILE"},
		},
		{
			name:   "region from the current profile",
			aliyun: aliyun,
			want:   map[string]string{"region": "profile dev", "profile": "default"},
		},
		{
			name:   "region from the profile the file names",
			aliyun: aliyun,
			file:   "profile: prod\n",
			want:   map[string]string{"region": "profile prod", "profile": "FILE"},
		},
		{
			name:   "an explicit region is not the profile's",
			aliyun: aliyun,
			flags:  map[string]string{"region": "eu-central-1"},
			want:   map[string]string{"region": "flag"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := isolate(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			if tt.aliyun != "" {
				writeFile(t, filepath.Join(home, ".aliyun", "config.json"), tt.aliyun)
			}
			path := filepath.Join(home, "none.yaml")
			if tt.file != "" {
				path = writeFile(t, filepath.Join(home, "ecsterm.yaml"), tt.file)
			}
			s, err := Inspect(rootFlags(t, tt.flags), path)
			if err != nil {
				t.Fatalf("Inspect: %v", err)
			}
			if s.File != path {
				t.Errorf("File = %q, want %q", s.File, path)
			}
			for key, want := range tt.want {
				want = strings.ReplaceAll(want, "FILE", "file "+path)
				if got := s.Source(key); got != want {
					t.Errorf("Source(%s) = %q, want %q", key, got, want)
				}
			}
			if got := s.Source("nope"); got != "" {
				t.Errorf("Source(nope) = %q, want empty", got)
			}
		})
	}
}

func TestInspectGet(t *testing.T) {
	home := isolate(t)
	path := writeFile(t, filepath.Join(home, "c.yaml"), "region: r\nquiet: true\naliases:\n  Web: admin@i-abc\n  db.prod: tag:role=db\n")
	s, err := Inspect(rootFlags(t, nil), path)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"profile": "", "region": "r", "endpoint": "", "output": "text", "quiet": true, "debug": false, "escape": "~", "connection_type": "", "record_dir": "", "persist": "",
		"aliases": map[string]string{"Web": "admin@i-abc", "db.prod": "tag:role=db"},
	}
	for _, key := range Keys() {
		got, ok := s.Get(key)
		if !ok || !reflect.DeepEqual(got, want[key]) {
			t.Errorf("Get(%s) = %#v, %v; want %#v", key, got, ok, want[key])
		}
	}
	if _, ok := s.Get("nope"); ok {
		t.Error("Get(nope) found a value")
	}
	// Aliases hands out a copy.
	s.Config.Aliases()["Web"] = "changed"
	if got := s.Config.Aliases()["Web"]; got != "admin@i-abc" {
		t.Errorf("Aliases is not a copy: %q", got)
	}
}

func TestLoadEscapeAndAliases(t *testing.T) {
	tests := []struct {
		name        string
		file        string
		env         map[string]string
		wantEscape  string
		wantAliases map[string]string
		wantErr     string
	}{
		{name: "defaults", wantEscape: "~", wantAliases: map[string]string{}},
		{name: "escape from the file", file: "escape: \"^]\"\n", wantEscape: "^]", wantAliases: map[string]string{}},
		{name: "escape none", file: "escape: none\n", wantEscape: "none", wantAliases: map[string]string{}},
		{name: "a bare tilde is YAML null: the default", file: "escape: ~\n", wantEscape: "~", wantAliases: map[string]string{}},
		{name: "escape from env", env: map[string]string{"ECSTERM_ESCAPE": "^A"}, file: "escape: '#'\n", wantEscape: "^A", wantAliases: map[string]string{}},
		{name: "bad escape", file: "escape: ab\n", wantErr: `escape character "ab"`},
		{name: "bad escape from env names it", env: map[string]string{"ECSTERM_ESCAPE": "^^^"}, wantErr: "env ECSTERM_ESCAPE"},
		{name: "aliases keep their case", file: "aliases:\n  Web: i-abc\n  bastion: root@tag:role=bastion\n",
			wantEscape: "~", wantAliases: map[string]string{"Web": "i-abc", "bastion": "root@tag:role=bastion"}},
		{name: "bad alias name", file: "aliases:\n  'we b': i-abc\n", wantErr: "alias name"},
		{name: "alias to nothing", file: "aliases:\n  web: ''\n", wantErr: "alias web is empty"},
		{name: "aliases not a map", file: "aliases: [a, b]\n", wantErr: "aliases"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := isolate(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			path := filepath.Join(home, "none.yaml")
			if tt.file != "" {
				path = writeFile(t, path, tt.file)
			}
			cfg, err := Load(rootFlags(t, nil), path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Escape() != tt.wantEscape {
				t.Errorf("Escape() = %q, want %q", cfg.Escape(), tt.wantEscape)
			}
			if !reflect.DeepEqual(cfg.Aliases(), tt.wantAliases) {
				t.Errorf("Aliases() = %v, want %v", cfg.Aliases(), tt.wantAliases)
			}
		})
	}
	var zero Config
	if zero.Escape() != DefaultEscape || zero.Aliases() == nil {
		t.Error("a zero Config does not mean the defaults")
	}
}

func TestSetRoundTrip(t *testing.T) {
	home := isolate(t)
	dir := filepath.Join(home, "cfg", "ecsterm")
	path := filepath.Join(dir, "config.yaml")
	sets := [][2]string{
		{"region", "cn-beijing"}, {"profile", "prod"}, {"endpoint", "http://127.0.0.1:8080"}, {"output", "json"},
		{"quiet", "true"}, {"debug", "FALSE"}, {"escape", "~"}, {"alias.web", "admin@i-bp1abc"},
		{"aliases.db.prod", "tag:role=db"}, {"Region", "cn-shanghai"}, {"alias.Web", "i-other"},
	}
	for _, kv := range sets {
		if err := Set(path, kv[0], kv[1]); err != nil {
			t.Fatalf("Set(%s, %s): %v", kv[0], kv[1], err)
		}
	}
	if runtime.GOOS != "windows" {
		assertMode(t, path, 0o600)
		assertMode(t, dir, 0o700)
	}
	cfg, err := Load(rootFlags(t, nil), path)
	if err != nil {
		b, _ := os.ReadFile(path)
		t.Fatalf("Load after Set: %v\n%s", err, b)
	}
	want := Config{Profile: "prod", Region: "cn-shanghai", Endpoint: "http://127.0.0.1:8080", Output: "json", Quiet: true, File: path}
	got := *cfg
	got.escape, got.aliases = "", nil
	if got != want {
		t.Errorf("Load = %+v, want %+v", got, want)
	}
	if cfg.Escape() != "~" {
		t.Errorf("Escape() = %q: a tilde must be written quoted, not as YAML null", cfg.Escape())
	}
	wantAliases := map[string]string{"web": "admin@i-bp1abc", "Web": "i-other", "db.prod": "tag:role=db"}
	if !reflect.DeepEqual(cfg.Aliases(), wantAliases) {
		t.Errorf("Aliases() = %v, want %v", cfg.Aliases(), wantAliases)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the config file (no temporary files left)", len(entries))
	}
}

func TestSetKeepsTheRestOfTheFile(t *testing.T) {
	home := isolate(t)
	path := writeFile(t, filepath.Join(home, "c.yaml"), "# my settings\nregion: cn-hangzhou # home region\n\n# work\nprofile: work\n")
	if err := Set(path, "region", "cn-beijing"); err != nil {
		t.Fatal(err)
	}
	if err := Set(path, "escape", "^]"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	got := string(b)
	for _, want := range []string{"# my settings", "region: cn-beijing # home region", "# work", "profile: work", `escape: ^]`} {
		if !strings.Contains(got, want) {
			t.Errorf("file lacks %q:\n%s", want, got)
		}
	}
	if strings.Index(got, "region") > strings.Index(got, "profile") {
		t.Errorf("region moved:\n%s", got)
	}
}

func TestSetCommentOnlyAndEmptyFiles(t *testing.T) {
	for name, content := range map[string]string{"empty": "", "comments only": "# nothing yet\n", "document marker": "---\n"} {
		t.Run(name, func(t *testing.T) {
			home := isolate(t)
			path := writeFile(t, filepath.Join(home, "c.yaml"), content)
			if err := Set(path, "region", "cn-beijing"); err != nil {
				t.Fatal(err)
			}
			cfg, err := Load(rootFlags(t, nil), path)
			if err != nil || cfg.Region != "cn-beijing" {
				b, _ := os.ReadFile(path)
				t.Fatalf("Load = %+v, %v\n%s", cfg, err, b)
			}
		})
	}
}

func TestSetRefuses(t *testing.T) {
	tests := []struct{ key, value, wantErr string }{
		{"colour", "red", `unknown key "colour"`},
		{"aliases", "x", "alias.NAME"},
		{"alias", "x", "alias.NAME"},
		{"alias.", "x", "alias name"},
		{"alias.we@b", "x", "alias name"},
		{"alias.tag:x", "x", "alias name"},
		{"alias.-x", "x", "alias name"},
		{"alias.web", "", "unset"},
		{"alias.web", "i-abc\n", "control characters"},
		{"output", "yaml", "text or json"},
		{"quiet", "maybe", "true or false"},
		{"escape", "ab", "escape character"},
		{"escape", "^a", "escape character"},
		{"region", "cn hangzhou", "spaces"},
		{"region", " cn-hangzhou", "leading or trailing space"},
		{"endpoint", "", "empty"},
		{"", "x", "no key"},
	}
	for _, tt := range tests {
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			home := isolate(t)
			path := filepath.Join(home, "c.yaml")
			err := Set(path, tt.key, tt.value)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Set(%q, %q) = %v, want %q", tt.key, tt.value, err, tt.wantErr)
			}
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a refused Set created the file (%v)", err)
			}
		})
	}
}

func TestSetBadFiles(t *testing.T) {
	home := isolate(t)
	for name, content := range map[string]string{"malformed": "region: [x\n", "a list": "- a\n- b\n"} {
		path := writeFile(t, filepath.Join(home, name+".yaml"), content)
		err := Set(path, "region", "r")
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: Set = %v, want an error naming the file", name, err)
		}
		if b, _ := os.ReadFile(path); string(b) != content {
			t.Errorf("%s: the file changed to %q", name, b)
		}
	}
	if err := Set("", "region", "r"); err == nil {
		t.Error("Set with no file succeeded")
	}
}

func TestUnset(t *testing.T) {
	home := isolate(t)
	path := writeFile(t, filepath.Join(home, "c.yaml"), "region: r\naliases:\n  web: i-abc\n  db: i-def\n")
	if err := Unset(path, "alias.web"); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(rootFlags(t, nil), path)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"db": "i-def"}; !reflect.DeepEqual(cfg.Aliases(), want) {
		t.Errorf("Aliases() = %v, want %v", cfg.Aliases(), want)
	}
	if err := Unset(path, "alias.db"); err != nil {
		t.Fatal(err)
	}
	if err := Unset(path, "region"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if strings.TrimSpace(string(b)) != "{}" {
		t.Errorf("after unsetting everything the file is %q, want an empty mapping", b)
	}
	for _, key := range []string{"region", "alias.web", "escape"} {
		if err := Unset(path, key); !errors.Is(err, ErrNotSet) {
			t.Errorf("Unset(%s) again = %v, want ErrNotSet", key, err)
		}
	}
	if err := Unset(path, "colour"); err == nil || errors.Is(err, ErrNotSet) {
		t.Errorf("Unset(colour) = %v, want an unknown key error", err)
	}
}

func TestSetFollowsSymlink(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links need privileges on Windows")
	}
	home := isolate(t)
	real := writeFile(t, filepath.Join(home, "dotfiles", "ecsterm.yaml"), "region: r\n")
	link := filepath.Join(home, "cfg", "config.yaml")
	if err := os.MkdirAll(filepath.Dir(link), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if err := Set(link, "profile", "p"); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced (%v)", err)
	}
	if b, _ := os.ReadFile(real); !strings.Contains(string(b), "profile: p") {
		t.Errorf("the linked file is %q", b)
	}
}

func TestWritePrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	path := filepath.Join(dir, "f.json")
	for _, content := range []string{"one", "two"} {
		if err := WritePrivate(path, []byte(content)); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(path); string(b) != content {
			t.Errorf("content %q, want %q", b, content)
		}
	}
	if runtime.GOOS != "windows" {
		assertMode(t, path, 0o600)
		assertMode(t, dir, 0o700)
		// An existing file with looser permissions is replaced by a private one.
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := WritePrivate(path, []byte("three")); err != nil {
			t.Fatal(err)
		}
		assertMode(t, path, 0o600)
	}
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s has mode %o, want %o", path, got, want)
	}
}
