package doctor

import (
	"errors"
	"testing"

	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/emulator"
)

// emulatorWith is newEmulator with more options.
func emulatorWith(t *testing.T, opts emulator.Options) *emulator.Emulator {
	t.Helper()
	isolate(t)
	e, err := emulator.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// TestSwitchSource: doctor names the action that answered for the account's session switch,
// and why the newer one did not.
func TestSwitchSource(t *testing.T) {
	for _, tc := range []struct {
		name   string
		refuse string
		mode   string
		want   map[string][]string
	}{
		{"newer answers", "", "enabled", map[string][]string{
			"sessions": {"ok", "enabled", "(DescribeCloudAssistantSettings answered)"},
		}},
		{"newer missing", "InvalidAction.NotFound", "enabled", map[string][]string{
			"sessions":  {"ok", "enabled", "(DescribeUserBusinessBehavior answered; DescribeCloudAssistantSettings was refused: InvalidAction.NotFound)"},
			"recording": {"warn", "cannot tell", "InvalidAction.NotFound"},
		}},
		{"newer forbidden, off", "Forbidden.RAM", "disabled", map[string][]string{
			"sessions": {"FAIL", "disabled", "DescribeUserBusinessBehavior answered", "Forbidden.RAM", "ModifyUserBusinessBehavior"},
		}},
		{"newer says off", "", "disabled", map[string][]string{
			"sessions": {"FAIL", "disabled", "DescribeCloudAssistantSettings answered", "ModifyCloudAssistantSettings"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := emulator.DefaultFleet()
			f.SessionManager = tc.mode
			opts := emulator.Options{Fleet: f}
			if tc.refuse != "" {
				opts.Refuse = map[string]string{cloud.SettingsAction: tc.refuse}
			}
			e := emulatorWith(t, opts)
			out, err := run(t, Options{API: clientFor(t, e, "")})
			if (tc.mode == "disabled") != errors.Is(err, cmdutil.ErrSilent) {
				t.Errorf("err = %v", err)
			}
			expect(t, out, tc.want)
		})
	}
}

// TestRecording: doctor says whether the service delivers session records, and where to.
func TestRecording(t *testing.T) {
	for _, tc := range []struct {
		name     string
		delivery emulator.Delivery
		want     []string
	}{
		{"none", emulator.Delivery{}, []string{"ok", "does not record sessions"}},
		{"configured but off", emulator.Delivery{OSS: &emulator.OSSDelivery{BucketName: "b"}, SLS: &emulator.SLSDelivery{ProjectName: "p"}},
			[]string{"ok", "does not record sessions", "OSS and SLS configured, but off"}},
		{"OSS on", emulator.Delivery{OSS: &emulator.OSSDelivery{Enabled: true, BucketName: "audit", Prefix: "ecs/"}},
			[]string{"ok", "records this account's sessions", "OSS oss://audit/ecs/"}},
		{"SLS on, hostile name", emulator.Delivery{SLS: &emulator.SLSDelivery{Enabled: true, ProjectName: "p\x1b[2J", LogstoreName: "l"}},
			[]string{"ok", "records this account's sessions", `SLS project p\x1b[2J, logstore l`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := emulator.DefaultFleet()
			f.SessionDelivery = tc.delivery
			e := emulatorWith(t, emulator.Options{Fleet: f})
			out, err := run(t, Options{API: clientFor(t, e, "")})
			if err != nil {
				t.Errorf("err = %v\n%s", err, out)
			}
			expect(t, out, map[string][]string{"recording": tc.want})
		})
	}
}

// TestConnectionLine: doctor reports the connection type the client sends.
func TestConnectionLine(t *testing.T) {
	e := emulatorWith(t, emulator.Options{})
	cred := e.Credential()
	c, err := cloud.New(cloud.Config{Region: e.Region(), Endpoint: e.Endpoint(), AccessKeyID: cred.AccessKeyID, AccessKeySecret: cred.AccessKeySecret, ConnectionType: "intranet"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := run(t, Options{API: c})
	if err != nil {
		t.Fatal(err)
	}
	expect(t, out, map[string][]string{"connection": {"ok", "intranet", "inside the instance's VPC"}})
}
