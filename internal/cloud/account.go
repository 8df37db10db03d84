package cloud

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	ecs "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/tea/dara"
)

// The actions that can answer for the account's session switch.
const (
	// SettingsAction is the newer one (2025): SessionManagerConfig.SessionManagerEnabled, one
	// switch for all regions.
	SettingsAction = "DescribeCloudAssistantSettings"
	// BehaviorAction is the older one, which the official CLI still asks before every session.
	BehaviorAction = "DescribeUserBusinessBehavior"
)

// SessionSwitch is the account's session-management switch and which action answered.
type SessionSwitch struct {
	Enabled bool
	Source  string // SettingsAction or BehaviorAction
	// Refused, when Source is BehaviorAction, is why SettingsAction did not answer.
	Refused error
}

// settingsMemo remembers that SettingsAction was refused for good (an endpoint without it, a
// RAM policy without it), so that a client asks the older action straight away after that.
type settingsMemo struct {
	refused atomic.Bool
}

// errNoSwitch is an answer of SettingsAction without SessionManagerConfig.SessionManagerEnabled.
var errNoSwitch = errors.New("the answer has no SessionManagerConfig.SessionManagerEnabled")

// SessionsEnabled reports whether session management is enabled for the account (SessionSwitch).
func (c *Client) SessionsEnabled(ctx context.Context) (bool, error) {
	sw, err := c.SessionSwitch(ctx)
	return sw.Enabled, err
}

// SessionSwitch reads the account's session switch from SettingsAction, and from BehaviorAction
// where the newer action is missing or refused (an older endpoint, a RAM policy written before
// 2025), as the official CLI reads it before every session. For BehaviorAction only the value
// "disabled" counts as off: the CLI refuses on exactly that, and an unknown value must not
// block a feature that may well work.
func (c *Client) SessionSwitch(ctx context.Context) (SessionSwitch, error) {
	var refused error
	if !c.settings.refused.Load() {
		on, err := c.settingsSwitch(ctx)
		switch {
		case err == nil:
			return SessionSwitch{Enabled: on, Source: SettingsAction}, nil
		case !settingsRefused(err):
			return SessionSwitch{}, err
		}
		c.settings.refused.Store(true)
		c.log.Debug("falling back to "+BehaviorAction, "err", err)
		refused = err
	}
	on, err := c.behaviorSwitch(ctx)
	if err != nil {
		if refused != nil {
			return SessionSwitch{}, fmt.Errorf("%w; before it, %s", err, refused)
		}
		return SessionSwitch{}, err
	}
	return SessionSwitch{Enabled: on, Source: BehaviorAction, Refused: refused}, nil
}

// settingsRefused reports whether SettingsAction's failure says this account or endpoint will
// not answer it (so the older action may), rather than that the request could not be made.
func settingsRefused(err error) bool {
	if errors.Is(err, errNoSwitch) {
		return true
	}
	var ae *APIError
	if !errors.As(err, &ae) || transient(err) {
		return false
	}
	for _, p := range []string{"InvalidAction", "InvalidApi", "Forbidden", "NoPermission", "Operation.Forbidden", "InvalidParameter", "UnsupportedOperation", "MissingParameter"} {
		if strings.HasPrefix(ae.Code, p) {
			return true
		}
	}
	return ae.Status == 403 || ae.Status == 404
}

func (c *Client) settingsSwitch(ctx context.Context) (bool, error) {
	req := &ecs.DescribeCloudAssistantSettingsRequest{RegionId: dara.String(c.region), SettingType: []*string{dara.String("SessionManagerConfig")}}
	var on *bool
	err := c.call(ctx, SettingsAction, func() error {
		resp, err := c.sdk().DescribeCloudAssistantSettingsWithContext(ctx, req, runtime())
		if err == nil && resp.Body != nil && resp.Body.SessionManagerConfig != nil {
			on = resp.Body.SessionManagerConfig.SessionManagerEnabled
		}
		return err
	})
	if err == nil && on == nil {
		err = fmt.Errorf("%s: %w", SettingsAction, errNoSwitch)
	}
	if err != nil {
		return false, err
	}
	return *on, nil
}

func (c *Client) behaviorSwitch(ctx context.Context) (bool, error) {
	req := &ecs.DescribeUserBusinessBehaviorRequest{RegionId: dara.String(c.region), StatusKey: dara.String("sessionManagerStatus")}
	var value string
	err := c.call(ctx, BehaviorAction, func() error {
		resp, err := c.sdk().DescribeUserBusinessBehaviorWithContext(ctx, req, runtime())
		if err == nil && resp.Body != nil {
			value = dara.StringValue(resp.Body.StatusValue)
		}
		return err
	})
	if err != nil {
		return false, err
	}
	return value != "disabled", nil
}

// Endpoint is the URL of the OpenAPI endpoint the client calls: the configured one, or the one
// the SDK chose for the region.
func (c *Client) Endpoint() string {
	scheme := dara.StringValue(c.ecs.Protocol)
	if scheme == "" {
		scheme = "https" // the SDK's default
	}
	return scheme + "://" + dara.StringValue(c.ecs.Endpoint)
}

// EndpointProbe is what one plain HTTP request to the endpoint showed.
type EndpointProbe struct {
	URL    string
	Status int           // any status means reachable: the service answers unsigned requests with an error
	RTT    time.Duration // request sent to response headers read
	// Date is the server's clock from the Date header (zero without one); Skew is Date minus
	// this machine's clock halfway through the request, good to about a second.
	Date time.Time
	Skew time.Duration
}

// Probe sends one unsigned GET to the endpoint's root, to tell whether it is reachable and to
// read the service's clock from the Date header. It does not go through the SDK because the
// clock matters most exactly when signed calls fail: beyond 15 minutes of skew every one of
// them is refused with IllegalTimestamp. Proxies come from the environment (never for loopback).
func (c *Client) Probe(ctx context.Context) (*EndpointProbe, error) {
	u := c.Endpoint() + "/"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "ecsterm-doctor")
	hc := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, TLSHandshakeTimeout: 5 * time.Second},
		// A redirect would say nothing more about this endpoint.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer hc.CloseIdleConnections()
	sent := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	got := time.Now()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	p := &EndpointProbe{URL: u, Status: resp.StatusCode, RTT: got.Sub(sent)}
	if d, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
		p.Date = d
		// Date is the server's clock, truncated to the second, read somewhere inside [sent, got].
		p.Skew = d.Add(time.Second / 2).Sub(sent.Add(got.Sub(sent) / 2)).Round(time.Second)
	}
	return p, nil
}

// FindCredentials resolves credentials as New would for cfg (its region need not be set) and
// names the provider that answered, never the secret. It lets a report name the credential source
// even when the configuration is broken elsewhere.
func FindCredentials(cfg Config) (source string, err error) {
	cred, err := credential(cfg)
	if err != nil {
		return "", err
	}
	model, err := cred.GetCredential()
	if err != nil {
		return "", fmt.Errorf("%w: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, or configure a profile with `aliyun configure`", ErrNoCredentials)
	}
	return dara.StringValue(model.ProviderName), nil
}

// InstallAgent asks the service to install the Cloud Assistant agent on an instance. The agent
// works only after the instance reboots (docs/protocol.md, InstallCloudAssistant), which ecsterm
// does not do for you.
func (c *Client) InstallAgent(ctx context.Context, id string) error {
	req := &ecs.InstallCloudAssistantRequest{RegionId: dara.String(c.region), InstanceId: []*string{dara.String(id)}}
	return c.call(ctx, "InstallCloudAssistant", func() error {
		_, err := c.sdk().InstallCloudAssistantWithContext(ctx, req, runtime())
		return err
	})
}
