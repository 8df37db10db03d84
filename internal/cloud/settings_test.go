package cloud

import (
	"errors"
	"strings"
	"testing"

	"github.com/ecsterm/ecsterm/internal/emulator"
)

// TestSessionSwitch: DescribeCloudAssistantSettings answers first; where it is refused (missing
// action, RAM policy without it) DescribeUserBusinessBehavior answers, the refusal is kept for
// the report, and later calls go straight to the older action.
func TestSessionSwitch(t *testing.T) {
	for _, tt := range []struct {
		name               string
		refuse             string // code for DescribeCloudAssistantSettings, "" answers
		mode               string
		want               bool
		source             string
		settings, behavior int // calls after two SessionSwitch
	}{
		{"settings on", "", "enabled", true, SettingsAction, 2, 0},
		{"settings off", "", "disabled", false, SettingsAction, 2, 0},
		{"missing action", "InvalidAction.NotFound", "disabled", false, BehaviorAction, 1, 2},
		{"RAM policy", "Forbidden.RAM", "enabled", true, BehaviorAction, 1, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := emulator.DefaultFleet()
			f.SessionManager = tt.mode
			opts := emulator.Options{Fleet: f}
			if tt.refuse != "" {
				opts.Refuse = map[string]string{SettingsAction: tt.refuse}
			}
			e := newEmulator(t, opts)
			c := newClient(t, e, nil)
			for i := range 2 {
				sw, err := c.SessionSwitch(ctx(t))
				if err != nil {
					t.Fatal(err)
				}
				if sw.Enabled != tt.want || sw.Source != tt.source {
					t.Errorf("call %d: %+v, want enabled %v from %s", i, sw, tt.want, tt.source)
				}
				var ae *APIError
				if tt.refuse != "" && i == 0 && (!errors.As(sw.Refused, &ae) || ae.Code != tt.refuse) {
					t.Errorf("Refused = %v, want %s", sw.Refused, tt.refuse)
				}
			}
			if n := e.Calls(SettingsAction); n != tt.settings {
				t.Errorf("%s called %d times, want %d", SettingsAction, n, tt.settings)
			}
			if n := e.Calls(BehaviorAction); n != tt.behavior {
				t.Errorf("%s called %d times, want %d", BehaviorAction, n, tt.behavior)
			}
		})
	}
}

// TestSessionSwitchBothRefused names both actions' refusals in one error.
func TestSessionSwitchBothRefused(t *testing.T) {
	e := newEmulator(t, emulator.Options{Refuse: map[string]string{SettingsAction: "Forbidden.RAM", BehaviorAction: "Forbidden.RAM"}})
	_, err := newClient(t, e, nil).SessionSwitch(ctx(t))
	var ae *APIError
	if !errors.As(err, &ae) || ae.Action != BehaviorAction || !strings.Contains(err.Error(), SettingsAction) {
		t.Errorf("err = %v", err)
	}
}

// TestSessionDelivery reads OSS and SLS session record delivery, on and off.
func TestSessionDelivery(t *testing.T) {
	f := emulator.DefaultFleet()
	e := newEmulator(t, emulator.Options{Fleet: f})
	got, err := newClient(t, e, nil).SessionDelivery(ctx(t))
	if err != nil || len(got) != 0 {
		t.Fatalf("none: %v %v", got, err)
	}
	f = emulator.DefaultFleet()
	f.SessionDelivery.OSS = &emulator.OSSDelivery{Enabled: true, BucketName: "audit", Prefix: "ecs/"}
	f.SessionDelivery.SLS = &emulator.SLSDelivery{Enabled: false, ProjectName: "p", LogstoreName: "l"}
	e = newEmulator(t, emulator.Options{Fleet: f})
	got, err = newClient(t, e, nil).SessionDelivery(ctx(t))
	want := []Delivery{{"OSS", true, "oss://audit/ecs/"}, {"SLS", false, "project p, logstore l"}}
	if err != nil || len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("got %+v, %v; want %+v", got, err, want)
	}
}

// TestStartSessionParameters: the client's ConnectionType goes with every session, its
// PasswordName with every session that names a user, and a PasswordName without a user is
// refused before any call.
func TestStartSessionParameters(t *testing.T) {
	e := newEmulator(t, emulator.Options{})
	const id = "i-emu0demo000000001"
	c := newClient(t, e, func(cfg *Config) { cfg.ConnectionType = "intranet"; cfg.PasswordName = "pw-admin" })
	if c.ConnectionType() != "Intranet" {
		t.Errorf("ConnectionType() = %q", c.ConnectionType())
	}
	if _, err := c.StartSession(ctx(t), StartOptions{InstanceID: id, Username: "Administrator"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.StartSession(ctx(t), StartOptions{InstanceID: id, PortNumber: 22}); err != nil {
		t.Fatal(err)
	}
	var ue *UsageError
	if _, err := c.StartSession(ctx(t), StartOptions{InstanceID: id}); !errors.As(err, &ue) {
		t.Errorf("no user: %v", err)
	}
	got := e.StartRequests()
	if len(got) != 2 || got[0].ConnectionType != "Intranet" || got[0].PasswordName != "pw-admin" ||
		got[1].ConnectionType != "Intranet" || got[1].PasswordName != "" {
		t.Errorf("StartRequests = %+v", got)
	}
	plain := newClient(t, e, nil)
	if _, err := plain.StartSession(ctx(t), StartOptions{InstanceID: id, Username: "root"}); err != nil {
		t.Fatal(err)
	}
	if got := e.StartRequests(); got[2].ConnectionType != "" || got[2].PasswordName != "" {
		t.Errorf("without settings: %+v", got[2])
	}
	if _, err := New(Config{Region: "r", ConnectionType: "vpc", AccessKeyID: "a", AccessKeySecret: "b"}); !errors.As(err, &ue) {
		t.Errorf("ConnectionType vpc: %v", err)
	}
}
