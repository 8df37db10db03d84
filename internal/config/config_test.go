package config

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// isolate clears every variable Load reads and gives the test a fresh HOME and config directory,
// so that neither the machine's aliyun profiles nor its ecsterm config file leak in. It returns
// the temporary HOME.
func isolate(t *testing.T) string {
	t.Helper()
	unset := map[string]bool{"ALIBABA_CLOUD_CONFIG_FILE": true}
	for _, names := range env {
		for _, n := range names {
			unset[n] = true
		}
	}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		for _, prefix := range []string{"ALIBABA_CLOUD_", "ALIBABACLOUD_", "ALICLOUD_", "ECSTERM_"} {
			if strings.HasPrefix(name, prefix) {
				unset[name] = true
			}
		}
	}
	for name := range unset {
		t.Setenv(name, "") // records the value for restoring
		os.Unsetenv(name)
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("USERPROFILE", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv("AppData", filepath.Join(home, "AppData"))
	return home
}

// rootFlags mirrors the persistent flags of internal/cli's root command.
func rootFlags(t *testing.T, set map[string]string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("ecsterm", pflag.ContinueOnError)
	fs.String("profile", "", "")
	fs.String("region", "", "")
	fs.String("endpoint", "", "")
	fs.StringP("output", "o", "text", "")
	fs.BoolP("quiet", "q", false, "")
	fs.Bool("debug", false, "")
	fs.String("connection-type", "", "")
	for k, v := range set {
		if err := fs.Set(k, v); err != nil {
			t.Fatalf("setting --%s: %v", k, err)
		}
	}
	return fs
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadPrecedence(t *testing.T) {
	const file = "profile: file-profile\nregion: file-region\nendpoint: https://file.example.com\noutput: json\n"
	tests := []struct {
		name  string
		flags map[string]string
		env   map[string]string
		file  string // YAML content; empty for no file
		want  Config
	}{
		{
			name: "defaults",
			want: Config{Output: "text"},
		},
		{
			name: "file beats defaults",
			file: file,
			want: Config{Profile: "file-profile", Region: "file-region", Endpoint: "https://file.example.com", Output: "json"},
		},
		{
			name: "env beats file",
			file: file,
			env: map[string]string{
				"ALIBABA_CLOUD_PROFILE":   "env-profile",
				"ALIBABA_CLOUD_REGION_ID": "env-region",
				"ECSTERM_ENDPOINT":        "https://env.example.com",
				"ECSTERM_OUTPUT":          "text",
			},
			want: Config{Profile: "env-profile", Region: "env-region", Endpoint: "https://env.example.com", Output: "text"},
		},
		{
			name: "env beats defaults and flag defaults",
			env:  map[string]string{"ECSTERM_OUTPUT": "json"},
			want: Config{Output: "json"},
		},
		{
			name:  "flags beat env and file",
			file:  file,
			flags: map[string]string{"profile": "flag-profile", "region": "flag-region", "endpoint": "https://flag.example.com", "output": "json"},
			env: map[string]string{
				"ALIBABA_CLOUD_PROFILE":   "env-profile",
				"ALIBABA_CLOUD_REGION_ID": "env-region",
				"ECSTERM_ENDPOINT":        "https://env.example.com",
				"ECSTERM_OUTPUT":          "text",
			},
			want: Config{Profile: "flag-profile", Region: "flag-region", Endpoint: "https://flag.example.com", Output: "json"},
		},
		{
			name:  "a flag set to its default still wins",
			flags: map[string]string{"output": "text"},
			env:   map[string]string{"ECSTERM_OUTPUT": "json"},
			file:  "output: json\n",
			want:  Config{Output: "text"},
		},
		{
			name:  "flags only for some keys",
			file:  file,
			flags: map[string]string{"region": "flag-region"},
			env:   map[string]string{"ECSTERM_ENDPOINT": "http://127.0.0.1:8080"},
			want:  Config{Profile: "file-profile", Region: "flag-region", Endpoint: "http://127.0.0.1:8080", Output: "json"},
		},
		{
			name:  "quiet and debug from flags",
			flags: map[string]string{"quiet": "true", "debug": "true"},
			want:  Config{Output: "text", Quiet: true, Debug: true},
		},
		{
			name: "quiet and debug from file",
			file: "quiet: true\ndebug: true\n",
			want: Config{Output: "text", Quiet: true, Debug: true},
		},
		{
			name:  "flag false beats file true",
			file:  "quiet: true\n",
			flags: map[string]string{"quiet": "false"},
			want:  Config{Output: "text"},
		},
		{
			name: "empty env is unset",
			file: file,
			env:  map[string]string{"ALIBABA_CLOUD_REGION_ID": "", "ECSTERM_ENDPOINT": ""},
			want: Config{Profile: "file-profile", Region: "file-region", Endpoint: "https://file.example.com", Output: "json"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := isolate(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			path := filepath.Join(dir, "missing.yaml")
			if tt.file != "" {
				path = writeFile(t, filepath.Join(dir, "ecsterm.yaml"), tt.file)
				tt.want.File = path
			}
			got, err := Load(rootFlags(t, tt.flags), path)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if *got != tt.want {
				t.Errorf("Load =\n %+v\nwant\n %+v", *got, tt.want)
			}
		})
	}
}

func TestLoadEnvAliases(t *testing.T) {
	tests := []struct {
		env         map[string]string
		wantProfile string
		wantRegion  string
	}{
		{env: map[string]string{"ALIBABA_CLOUD_PROFILE": "p1"}, wantProfile: "p1"},
		{env: map[string]string{"ALIBABACLOUD_PROFILE": "p2"}, wantProfile: "p2"},
		{env: map[string]string{"ALICLOUD_PROFILE": "p3"}, wantProfile: "p3"},
		{env: map[string]string{"ALIBABA_CLOUD_REGION_ID": "r1"}, wantRegion: "r1"},
		{env: map[string]string{"ALIBABACLOUD_REGION_ID": "r2"}, wantRegion: "r2"},
		{env: map[string]string{"ALICLOUD_REGION_ID": "r3"}, wantRegion: "r3"},
		{env: map[string]string{"ECSTERM_REGION": "r4"}, wantRegion: "r4"},
		// The Alibaba Cloud names come first, ecsterm's own last.
		{env: map[string]string{"ALIBABA_CLOUD_PROFILE": "p1", "ALIBABACLOUD_PROFILE": "p2", "ALICLOUD_PROFILE": "p3"}, wantProfile: "p1"},
		{env: map[string]string{"ALIBABACLOUD_PROFILE": "p2", "ALICLOUD_PROFILE": "p3"}, wantProfile: "p2"},
		{env: map[string]string{"ALIBABA_CLOUD_REGION_ID": "r1", "ALICLOUD_REGION_ID": "r3", "ECSTERM_REGION": "r4"}, wantRegion: "r1"},
		{env: map[string]string{"ALICLOUD_REGION_ID": "r3", "ECSTERM_REGION": "r4"}, wantRegion: "r3"},
		{env: map[string]string{"ALIBABA_CLOUD_REGION_ID": "r1", "ALIBABACLOUD_REGION_ID": "r2"}, wantRegion: "r1"},
		{env: map[string]string{"ALIBABACLOUD_REGION_ID": "r2", "ALICLOUD_REGION_ID": "r3"}, wantRegion: "r2"},
		{env: map[string]string{"ALIBABA_CLOUD_PROFILE": "p1", "ALIBABACLOUD_PROFILE": "p2"}, wantProfile: "p1"},
	}
	for _, tt := range tests {
		var names []string
		for k := range tt.env {
			names = append(names, k)
		}
		sort.Strings(names)
		t.Run(strings.Join(names, "+"), func(t *testing.T) {
			isolate(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			got, err := Load(rootFlags(t, nil), filepath.Join(t.TempDir(), "none.yaml"))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got.Profile != tt.wantProfile || got.Region != tt.wantRegion {
				t.Errorf("profile, region = %q, %q; want %q, %q", got.Profile, got.Region, tt.wantProfile, tt.wantRegion)
			}
		})
	}
}

func TestLoadEndpointEnv(t *testing.T) {
	isolate(t)
	t.Setenv("ECSTERM_ENDPOINT", "http://127.0.0.1:1")
	got, err := Load(rootFlags(t, nil), "")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got.Endpoint != "http://127.0.0.1:1" {
		t.Errorf("Endpoint = %q, want ECSTERM_ENDPOINT's", got.Endpoint)
	}
}

func TestLoadConfigFile(t *testing.T) {
	tests := []struct {
		name       string
		content    *string // nil: the file does not exist
		wantErr    bool
		wantFile   bool
		wantRegion string
	}{
		{name: "given file is read", content: ptr("region: cn-beijing\n"), wantFile: true, wantRegion: "cn-beijing"},
		{name: "empty file is fine", content: ptr(""), wantFile: true},
		{name: "missing file is fine", content: nil},
		{name: "malformed file is an error", content: ptr("region: [cn-beijing\n  output: {\n"), wantErr: true},
		{name: "tabs are not YAML", content: ptr("region:\n\t- x: [\n"), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := isolate(t)
			path := filepath.Join(dir, "conf", "ecsterm.yaml")
			if tt.content != nil {
				writeFile(t, path, *tt.content)
			}
			got, err := Load(rootFlags(t, nil), path)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Load = %+v, want an error", got)
				}
				if !strings.Contains(err.Error(), path) {
					t.Errorf("error %q does not name the file %s", err, path)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got.Region != tt.wantRegion {
				t.Errorf("Region = %q, want %q", got.Region, tt.wantRegion)
			}
			if tt.wantFile && got.File != path {
				t.Errorf("File = %q, want %q", got.File, path)
			}
			if !tt.wantFile && got.File != "" {
				t.Errorf("File = %q for a file that does not exist", got.File)
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestLoadDefaultFile(t *testing.T) {
	isolate(t)
	path := DefaultFile()
	if path == "" {
		t.Skip("no user config directory")
	}
	writeFile(t, path, "region: cn-qingdao\n")
	got, err := Load(rootFlags(t, nil), "")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got.Region != "cn-qingdao" || got.File != path {
		t.Errorf("Region, File = %q, %q; want cn-qingdao, %s", got.Region, got.File, path)
	}
}

func TestLoadOutput(t *testing.T) {
	tests := []struct {
		name    string
		flags   map[string]string
		env     map[string]string
		file    string
		want    string
		wantErr bool
	}{
		{name: "default", want: "text"},
		{name: "flag json", flags: map[string]string{"output": "json"}, want: "json"},
		{name: "flag text", flags: map[string]string{"output": "text"}, want: "text"},
		{name: "flag yaml", flags: map[string]string{"output": "yaml"}, wantErr: true},
		{name: "flag empty", flags: map[string]string{"output": ""}, wantErr: true},
		{name: "env table", env: map[string]string{"ECSTERM_OUTPUT": "table"}, wantErr: true},
		{name: "file xml", file: "output: xml\n", wantErr: true},
		{name: "flag fixes bad env", flags: map[string]string{"output": "json"}, env: map[string]string{"ECSTERM_OUTPUT": "yaml"}, want: "json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := isolate(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			path := filepath.Join(dir, "none.yaml")
			if tt.file != "" {
				path = writeFile(t, path, tt.file)
			}
			got, err := Load(rootFlags(t, tt.flags), path)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Load = %+v, want an error", got)
				}
				if !strings.Contains(err.Error(), "text or json") {
					t.Errorf("error %q does not say what is accepted", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got.Output != tt.want {
				t.Errorf("Output = %q, want %q", got.Output, tt.want)
			}
		})
	}
}

func TestLoadProfileRegion(t *testing.T) {
	const aliyun = `{
  "current": "dev",
  "profiles": [
    {"name": "dev", "mode": "AK", "region_id": "cn-hangzhou"},
    {"name": "prod", "mode": "AK", "region_id": "cn-shanghai"},
    {"name": "bare", "mode": "AK"}
  ]
}`
	tests := []struct {
		name   string
		flags  map[string]string
		env    map[string]string
		file   string // ecsterm config file
		aliyun string // ~/.aliyun/config.json; empty for none
		want   string
	}{
		{name: "current profile", aliyun: aliyun, want: "cn-hangzhou"},
		{name: "profile flag", aliyun: aliyun, flags: map[string]string{"profile": "prod"}, want: "cn-shanghai"},
		{name: "profile env", aliyun: aliyun, env: map[string]string{"ALIBABA_CLOUD_PROFILE": "prod"}, want: "cn-shanghai"},
		{name: "profile from config file", aliyun: aliyun, file: "profile: prod\n", want: "cn-shanghai"},
		{name: "region flag beats profile", aliyun: aliyun, flags: map[string]string{"profile": "prod", "region": "eu-central-1"}, want: "eu-central-1"},
		{name: "region env beats profile", aliyun: aliyun, flags: map[string]string{"profile": "prod"}, env: map[string]string{"ALIBABA_CLOUD_REGION_ID": "ap-southeast-1"}, want: "ap-southeast-1"},
		{name: "region in config file beats profile", aliyun: aliyun, file: "region: us-west-1\n", want: "us-west-1"},
		{name: "unknown profile", aliyun: aliyun, flags: map[string]string{"profile": "nope"}, want: ""},
		{name: "profile without region", aliyun: aliyun, flags: map[string]string{"profile": "bare"}, want: ""},
		{name: "no aliyun config", want: ""},
		{name: "malformed aliyun config", aliyun: "{not json", want: ""},
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
				path = writeFile(t, path, tt.file)
			}
			got, err := Load(rootFlags(t, tt.flags), path)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got.Region != tt.want {
				t.Errorf("Region = %q, want %q", got.Region, tt.want)
			}
		})
	}
}

func TestLoadProfileRegionConfigFileEnv(t *testing.T) {
	home := isolate(t)
	writeFile(t, filepath.Join(home, ".aliyun", "config.json"), `{"current":"a","profiles":[{"name":"a","region_id":"cn-hangzhou"}]}`)
	other := writeFile(t, filepath.Join(t.TempDir(), "aliyun.json"), `{"current":"b","profiles":[{"name":"b","region_id":"cn-shenzhen"}]}`)
	t.Setenv("ALIBABA_CLOUD_CONFIG_FILE", other)
	got, err := Load(rootFlags(t, nil), filepath.Join(home, "none.yaml"))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got.Region != "cn-shenzhen" {
		t.Errorf("Region = %q, want the profile's in ALIBABA_CLOUD_CONFIG_FILE (cn-shenzhen)", got.Region)
	}
}

// TestRecordDir: record_dir comes from the file or ECSTERM_RECORD_DIR, and config set takes it.
func TestRecordDir(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	if err := Set(file, "record_dir", "/var/casts"); err != nil {
		t.Fatal(err)
	}
	s, err := Inspect(pflag.NewFlagSet("x", pflag.ContinueOnError), file)
	if err != nil || s.Config.RecordDir != "/var/casts" || s.Source("record_dir") != "file "+file {
		t.Fatalf("file: %v %q %q", err, s.Config.RecordDir, s.Source("record_dir"))
	}
	t.Setenv("ECSTERM_RECORD_DIR", "/tmp/casts")
	if s, err = Inspect(pflag.NewFlagSet("x", pflag.ContinueOnError), file); err != nil || s.Config.RecordDir != "/tmp/casts" {
		t.Fatalf("env: %v %q", err, s.Config.RecordDir)
	}
}
