package doctor

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/config"
	"github.com/ecsterm/ecsterm/internal/iostreams"
)

// fakeAPI answers every check from memory.
type fakeAPI struct {
	probeErr   error
	sw         cloud.SessionSwitch
	swErr      error
	deliveries []cloud.Delivery
	insts      []cloud.InstanceInfo
	ready      map[string]*cloud.Instance
	preflights []string
}

func (f *fakeAPI) CredentialSource() string { return "fake" }
func (f *fakeAPI) Region() string           { return "cn-fake" }
func (f *fakeAPI) Endpoint() string         { return "http://127.0.0.1:1" }
func (f *fakeAPI) ConnectionType() string   { return "" }

func (f *fakeAPI) Probe(context.Context) (*cloud.EndpointProbe, error) {
	if f.probeErr != nil {
		return nil, f.probeErr
	}
	return &cloud.EndpointProbe{Status: 400, RTT: time.Millisecond, Date: time.Now()}, nil
}

func (f *fakeAPI) SessionSwitch(context.Context) (cloud.SessionSwitch, error) { return f.sw, f.swErr }

func (f *fakeAPI) SessionDelivery(context.Context) ([]cloud.Delivery, error) {
	return f.deliveries, nil
}

func (f *fakeAPI) ListInstances(_ context.Context, flt cloud.InstanceFilter) ([]cloud.InstanceInfo, error) {
	var out []cloud.InstanceInfo
	for _, in := range f.insts {
		if flt.Name == "" || in.Name == flt.Name {
			out = append(out, in)
		}
	}
	return out, nil
}

func (f *fakeAPI) Preflight(_ context.Context, id string) (*cloud.Instance, error) {
	f.preflights = append(f.preflights, id)
	in := f.ready[id]
	if in == nil {
		return nil, errors.New("no such instance")
	}
	return in, in.Ready()
}

func healthy() *fakeAPI {
	return &fakeAPI{
		sw: cloud.SessionSwitch{Enabled: true, Source: cloud.SettingsAction},
		insts: []cloud.InstanceInfo{
			{ID: "i-web1", Name: "web"}, {ID: "i-db1", Name: "db"}, {ID: "i-db2", Name: "db"},
		},
		ready: map[string]*cloud.Instance{
			"i-web1": {ID: "i-web1", Name: "web", Status: "Running", OSType: "linux", PrivateIP: "10.0.0.1",
				AgentOnline: true, AgentVersion: "2.2.3.512", SessionManager: true},
		},
	}
}

func runFake(t *testing.T, opts Options) (string, error) {
	t.Helper()
	ios, _, out, _ := iostreams.Test()
	opts.IO = ios
	if opts.Config == nil && opts.ConfigErr == nil {
		opts.Config = &config.Config{Region: "cn-fake"}
	}
	err := doctorRun(context.Background(), &opts)
	return out.String(), err
}

func TestRunHealthyThroughFake(t *testing.T) {
	api := healthy()
	out, err := runFake(t, Options{API: api, Target: "web"})
	if err != nil {
		t.Fatalf("err = %v\n%s", err, out)
	}
	expect(t, out, map[string][]string{
		"credentials": {"ok", "provider fake"},
		"region":      {"ok", "cn-fake"},
		"endpoint":    {"ok", "http://127.0.0.1:1 answers (HTTP 400"},
		"clock":       {"ok", "in step"},
		"api":         {"ok", "accepted"},
		"sessions":    {"ok", "enabled", cloud.SettingsAction},
		"recording":   {"ok", "does not record"},
		"instance":    {"ok", "i-web1 web (linux, 10.0.0.1), found by name"},
		"running":     {"ok"},
		"agent":       {"ok", "online"},
	})
	if len(api.preflights) != 1 || api.preflights[0] != "i-web1" {
		t.Errorf("preflights %v", api.preflights)
	}
}

func TestRunFailuresThroughFake(t *testing.T) {
	// A configuration that did not resolve is the only line.
	out, err := runFake(t, Options{ConfigErr: errors.New("bad output \x1b[2J")})
	if !errors.Is(err, cmdutil.ErrSilent) || strings.Count(out, "\n") != 1 || strings.Contains(out, "\x1b") {
		t.Errorf("config error: %v\n%q", err, out)
	}
	expect(t, out, map[string][]string{"config": {"FAIL", `bad output \x1b[2J`}})

	// No client: the credentials are looked for alone, and the endpoint named when it is at fault.
	out, _ = runFake(t, Options{APIErr: errors.New("endpoint nonsense"), Credentials: func(string) (string, error) { return "env", nil }})
	expect(t, out, map[string][]string{"credentials": {"ok", "env"}, "region": {"ok", "cn-fake"}, "endpoint": {"FAIL", "nonsense"}})
	out, _ = runFake(t, Options{APIErr: cloud.ErrNoCredentials, Credentials: func(string) (string, error) { return "", errors.New("none found") }})
	expect(t, out, map[string][]string{"credentials": {"FAIL", "none found"}})
	if strings.Contains(out, "endpoint") {
		t.Errorf("missing credentials reported as an endpoint problem:\n%s", out)
	}

	// An endpoint that does not answer stops the checks.
	api := healthy()
	api.probeErr = errors.New("connection refused")
	out, _ = runFake(t, Options{API: api, Target: "web"})
	if expect(t, out, map[string][]string{"endpoint": {"FAIL", "refused"}}); strings.Contains(out, "api") || len(api.preflights) != 0 {
		t.Errorf("checks went on after the endpoint failed:\n%s", out)
	}

	// A refused request: the target is not checked.
	api = healthy()
	api.swErr = &cloud.APIError{Code: "InvalidAccessKeyId.NotFound", Message: "no such key"}
	out, _ = runFake(t, Options{API: api, Target: "web"})
	expect(t, out, map[string][]string{"api": {"FAIL", "InvalidAccessKeyId"}, "target": {"warn", "not checked"}})
	if len(api.preflights) != 0 {
		t.Error("preflight ran after the API refused")
	}

	// A forbidden switch is a warning, and the rest goes on.
	api = healthy()
	api.swErr = &cloud.APIError{Code: "Forbidden.RAM", Message: "no"}
	out, _ = runFake(t, Options{API: api})
	expect(t, out, map[string][]string{"api": {"ok"}, "sessions": {"warn", "cannot tell"}, "recording": {"ok"}})

	// An ambiguous target lists its matches.
	out, err = runFake(t, Options{API: healthy(), Target: "db"})
	if !errors.Is(err, cmdutil.ErrSilent) || !strings.Contains(out, "i-db1") || !strings.Contains(out, "i-db2") {
		t.Errorf("ambiguous: %v\n%s", err, out)
	}
	expect(t, out, map[string][]string{"target": {"FAIL", `name "db" matches 2 instances`}})
}

// What the service says is escaped, as everything doctor prints from the far side.
func TestRunEscapesThroughFake(t *testing.T) {
	api := healthy()
	api.deliveries = []cloud.Delivery{{Kind: "OSS", Enabled: true, Where: "bucket\x1b]0;pwned\x07/\u202eprefix"}}
	out, _ := runFake(t, Options{API: api})
	if strings.ContainsAny(out, "\x1b\x07\u202e") {
		t.Errorf("raw control characters in %q", out)
	}
	expect(t, out, map[string][]string{"recording": {"ok", `bucket\x1b]0;pwned\x07/\u202eprefix`}})
}

// RunE fills Options: a configuration or client that fails is kept for the report, not
// returned, and no client is built without a configuration.
func TestRunEFillsOptions(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	client := &cloud.Client{}
	clouds := 0
	for _, tc := range []struct {
		name     string
		cfg      func() (*config.Config, error)
		cloud    func() (*cloud.Client, error)
		check    func(*Options) bool
		wantCall int
	}{
		{"ok", func() (*config.Config, error) { return &config.Config{Output: "json"}, nil },
			func() (*cloud.Client, error) { clouds++; return client, nil },
			func(o *Options) bool {
				return o.API == API(client) && o.APIErr == nil && o.JSON && o.Credentials != nil
			}, 1},
		{"bad config", func() (*config.Config, error) { return nil, errors.New("bad config") },
			func() (*cloud.Client, error) { clouds++; return client, nil },
			func(o *Options) bool { return o.Config == nil && o.ConfigErr != nil && o.API == nil }, 0},
		{"bad client", func() (*config.Config, error) { return &config.Config{}, nil },
			func() (*cloud.Client, error) { clouds++; return nil, errors.New("bad cloud") },
			func(o *Options) bool { return o.API == nil && o.APIErr != nil && o.Config != nil }, 1},
	} {
		clouds = 0
		var got *Options
		cmd := NewCmdDoctor(&cmdutil.Factory{IOStreams: ios, Config: tc.cfg, Cloud: tc.cloud}, func(_ context.Context, o *Options) error { got = o; return nil })
		cmd.SetArgs(nil)
		if err := cmd.Execute(); err != nil || got == nil || !tc.check(got) || clouds != tc.wantCall {
			t.Errorf("%s: err %v, options %+v, Cloud called %d times", tc.name, err, got, clouds)
		}
	}
}
