package emulator

import (
	"testing"

	ecs "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/tea/tea"
)

// TestCloudAssistantSettings drives Describe/ModifyCloudAssistantSettings through the official
// SDK: the answer fills the SDK's models (the switch, OSS and SLS delivery), Modify changes what
// both switch actions report, and Refuse makes every call fail as a missing action does.
func TestCloudAssistantSettings(t *testing.T) {
	f := DefaultFleet()
	f.SessionDelivery.OSS = &OSSDelivery{Enabled: true, BucketName: "audit", Prefix: "sessions/"}
	e := testEmulator(t, Options{Fleet: f})
	c := apiClient(t, e)
	describe := func(types ...string) *ecs.DescribeCloudAssistantSettingsResponseBody {
		t.Helper()
		resp, err := c.DescribeCloudAssistantSettings(&ecs.DescribeCloudAssistantSettingsRequest{RegionId: tea.String(e.Region()), SettingType: tea.StringSlice(types)})
		if err != nil {
			t.Fatalf("DescribeCloudAssistantSettings %v: %v", types, err)
		}
		return resp.Body
	}
	b := describe("SessionManagerConfig", "SessionManagerDelivery")
	if b.SessionManagerConfig == nil || !tea.BoolValue(b.SessionManagerConfig.SessionManagerEnabled) {
		t.Errorf("SessionManagerConfig = %v", b.SessionManagerConfig)
	}
	if b.OssDeliveryConfigs == nil || len(b.OssDeliveryConfigs.OssDeliveryConfig) != 1 {
		t.Fatalf("OssDeliveryConfigs = %v", b.OssDeliveryConfigs)
	}
	o := b.OssDeliveryConfigs.OssDeliveryConfig[0]
	if !tea.BoolValue(o.Enabled) || tea.StringValue(o.BucketName) != "audit" || tea.StringValue(o.Prefix) != "sessions/" || tea.StringValue(o.DeliveryType) != sessionDeliveryType {
		t.Errorf("OSS delivery = %v", o)
	}
	if b.SlsDeliveryConfigs == nil || len(b.SlsDeliveryConfigs.SlsDeliveryConfig) != 0 {
		t.Errorf("SlsDeliveryConfigs = %v", b.SlsDeliveryConfigs)
	}
	if b := describe("SessionManagerConfig"); b.OssDeliveryConfigs != nil {
		t.Errorf("delivery answered without being asked: %v", b.OssDeliveryConfigs)
	}

	_, err := c.ModifyCloudAssistantSettings(&ecs.ModifyCloudAssistantSettingsRequest{RegionId: tea.String(e.Region()), SettingType: tea.String("SessionManagerConfig"),
		SessionManagerConfig: &ecs.ModifyCloudAssistantSettingsRequestSessionManagerConfig{SessionManagerEnabled: tea.Bool(false)}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ModifyCloudAssistantSettings(&ecs.ModifyCloudAssistantSettingsRequest{RegionId: tea.String(e.Region()), SettingType: tea.String("SessionManagerDelivery"),
		SlsDeliveryConfig: &ecs.ModifyCloudAssistantSettingsRequestSlsDeliveryConfig{Enabled: tea.Bool(true), ProjectName: tea.String("p"), LogstoreName: tea.String("l")}})
	if err != nil {
		t.Fatal(err)
	}
	b = describe("SessionManagerConfig", "SessionManagerDelivery")
	if tea.BoolValue(b.SessionManagerConfig.SessionManagerEnabled) {
		t.Error("the switch is still on after Modify")
	}
	if s := b.SlsDeliveryConfigs.SlsDeliveryConfig; len(s) != 1 || !tea.BoolValue(s[0].Enabled) || tea.StringValue(s[0].ProjectName) != "p" || tea.StringValue(s[0].LogstoreName) != "l" {
		t.Errorf("SLS delivery = %v", s)
	}
	old, err := c.DescribeUserBusinessBehavior(&ecs.DescribeUserBusinessBehaviorRequest{RegionId: tea.String(e.Region()), StatusKey: tea.String("sessionManagerStatus")})
	if err != nil || tea.StringValue(old.Body.StatusValue) != "disabled" {
		t.Errorf("DescribeUserBusinessBehavior after Modify: %v %v", old, err)
	}

	_, err = c.DescribeCloudAssistantSettings(&ecs.DescribeCloudAssistantSettingsRequest{RegionId: tea.String(e.Region()), SettingType: tea.StringSlice([]string{"Nope"})})
	if code, _ := errorCode(t, err); code != "InvalidParameter" {
		t.Errorf("SettingType Nope: %s", code)
	}

	refusing := testEmulator(t, Options{Refuse: map[string]string{"DescribeCloudAssistantSettings": "InvalidAction.NotFound"}})
	rc := apiClient(t, refusing)
	for range 2 {
		_, err = rc.DescribeCloudAssistantSettings(&ecs.DescribeCloudAssistantSettingsRequest{RegionId: tea.String(refusing.Region()), SettingType: tea.StringSlice([]string{"SessionManagerConfig"})})
		if code, status := errorCode(t, err); code != "InvalidAction.NotFound" || status != 404 {
			t.Errorf("refused: %s %d", code, status)
		}
	}
}

// TestStartTerminalSessionRecordsParameters: ConnectionType and PasswordName reach the emulator
// and StartRequests shows them; a bad ConnectionType and a PasswordName without Username are
// refused.
func TestStartTerminalSessionRecordsParameters(t *testing.T) {
	e := testEmulator(t, Options{})
	c := apiClient(t, e)
	start := func(edit func(*ecs.StartTerminalSessionRequest)) error {
		r := &ecs.StartTerminalSessionRequest{RegionId: tea.String(e.Region()), InstanceId: ids(1)}
		edit(r)
		_, err := c.StartTerminalSession(r)
		return err
	}
	if err := start(func(r *ecs.StartTerminalSessionRequest) {
		r.ConnectionType, r.Username, r.PasswordName = tea.String("Intranet"), tea.String("Administrator"), tea.String("axt-win-pw")
	}); err != nil {
		t.Fatal(err)
	}
	got := e.StartRequests()
	if len(got) != 1 || got[0].ConnectionType != "Intranet" || got[0].PasswordName != "axt-win-pw" || got[0].Username != "Administrator" || got[0].InstanceID != idDemo {
		t.Errorf("StartRequests = %+v", got)
	}
	err := start(func(r *ecs.StartTerminalSessionRequest) { r.ConnectionType = tea.String("Vpc") })
	if code, _ := errorCode(t, err); code != "InvalidParameter" {
		t.Errorf("ConnectionType Vpc: %s", code)
	}
	err = start(func(r *ecs.StartTerminalSessionRequest) { r.PasswordName = tea.String("pw") })
	if code, _ := errorCode(t, err); code != "MissingParameter" {
		t.Errorf("PasswordName alone: %s", code)
	}
	if n := len(e.StartRequests()); n != 1 {
		t.Errorf("%d requests recorded, want only the accepted one", n)
	}
}

// TestFleetAccountSettings: the fleet file sets the switch and the delivery as the README says.
func TestFleetAccountSettings(t *testing.T) {
	f, err := ParseFleet([]byte(`
sessionManager: disabled
sessionDelivery:
  oss: {enabled: true, bucket: audit, prefix: ecs/}
  sls: {enabled: false, project: ops, logstore: sessions}
`))
	if err != nil {
		t.Fatal(err)
	}
	d := f.SessionDelivery
	if f.SessionManager != "disabled" || d.OSS == nil || *d.OSS != (OSSDelivery{Enabled: true, BucketName: "audit", Prefix: "ecs/"}) ||
		d.SLS == nil || *d.SLS != (SLSDelivery{ProjectName: "ops", LogstoreName: "sessions"}) {
		t.Errorf("fleet = %+v, OSS %+v, SLS %+v", f, d.OSS, d.SLS)
	}
}
