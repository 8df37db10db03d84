package cloud

import (
	"context"
	"strings"

	ecs "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/tea/dara"
)

// Delivery is one place the service delivers the account's session records to (Cloud
// Assistant's Session Record Delivery): what users type and see in sessions, kept by the
// service whatever the client does.
type Delivery struct {
	Kind    string // "OSS" or "SLS"
	Enabled bool
	// Where is the bucket and prefix (OSS) or project and logstore (SLS), as the service named
	// them: printable only through text.Escape.
	Where string
}

// SessionDelivery asks DescribeCloudAssistantSettings for the session record delivery settings
// (SettingType SessionManagerDelivery) and returns each OSS and SLS destination it names,
// enabled or not.
func (c *Client) SessionDelivery(ctx context.Context) ([]Delivery, error) {
	req := &ecs.DescribeCloudAssistantSettingsRequest{RegionId: dara.String(c.region), SettingType: []*string{dara.String("SessionManagerDelivery")}}
	var out []Delivery
	err := c.call(ctx, SettingsAction, func() error {
		resp, err := c.sdk().DescribeCloudAssistantSettingsWithContext(ctx, req, runtime())
		if err != nil {
			return err
		}
		out = deliveries(resp.Body)
		return nil
	})
	return out, err
}

// deliveries picks the session destinations out of an answer. The SDK documents no values of
// DeliveryType; an entry is taken unless its DeliveryType names another kind of record (the
// invocation records of InvocationDelivery), so that an unknown spelling is shown rather than
// hidden.
func deliveries(b *ecs.DescribeCloudAssistantSettingsResponseBody) []Delivery {
	if b == nil {
		return nil
	}
	session := func(typ *string) bool {
		t := strings.ToLower(dara.StringValue(typ))
		return strings.Contains(t, "session") || !strings.Contains(t, "invocation")
	}
	var out []Delivery
	if b.OssDeliveryConfigs != nil {
		for _, d := range b.OssDeliveryConfigs.OssDeliveryConfig {
			if d == nil || !session(d.DeliveryType) {
				continue
			}
			where := "oss://" + dara.StringValue(d.BucketName)
			if p := dara.StringValue(d.Prefix); p != "" {
				where += "/" + strings.TrimPrefix(p, "/")
			}
			out = append(out, Delivery{Kind: "OSS", Enabled: dara.BoolValue(d.Enabled), Where: where})
		}
	}
	if b.SlsDeliveryConfigs != nil {
		for _, d := range b.SlsDeliveryConfigs.SlsDeliveryConfig {
			if d == nil || !session(d.DeliveryType) {
				continue
			}
			out = append(out, Delivery{Kind: "SLS", Enabled: dara.BoolValue(d.Enabled),
				Where: "project " + dara.StringValue(d.ProjectName) + ", logstore " + dara.StringValue(d.LogstoreName)})
		}
	}
	return out
}
