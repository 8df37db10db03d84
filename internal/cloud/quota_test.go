package cloud

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ecsterm/ecsterm/internal/emulator"
)

func TestQuotaOf(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want Quota
	}{
		{nil, NoQuota},
		{&APIError{Code: "SessionQuota.ExceedLimit"}, RegionQuota},
		{&APIError{Code: "InstanceSessionQuota.ExceedLimit"}, InstanceQuota},
		{fmt.Errorf("i-x: %w", &APIError{Code: "QuotaExceed.Session"}), RegionQuota},
		{&APIError{Code: "InvalidInstanceSessionCount.ExceedLimit"}, InstanceQuota},
		{&APIError{Code: "InstanceIds.ExceedLimit"}, NoQuota},
		{&APIError{Code: "InvalidSessionId.NotFound"}, NoQuota},
		{&APIError{Code: "Throttling.User"}, NoQuota},
		{errors.New("websocket: bad handshake: 403 InstanceSessionQuota.ExceedLimit"), InstanceQuota},
		{errors.New("websocket: bad handshake: 403 SessionQuota.ExceedLimit"), RegionQuota},
		{errors.New("closed: FlowExceedLimit (the session exceeded its bandwidth limit)"), NoQuota},
	} {
		if got := QuotaOf(tt.err); got != tt.want {
			t.Errorf("QuotaOf(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

// TestRegionQuotaRefusal: the region's limit is whatever the service enforces (here 2): the
// client starts sessions until it refuses, and the refusal says what to do, once, not retried.
func TestRegionQuotaRefusal(t *testing.T) {
	e := newEmulator(t, emulator.Options{SessionsPerRegion: 2})
	c := newClient(t, e, nil)
	const id = "i-emu0demo000000001"
	for range 2 {
		if _, err := c.StartSession(ctx(t), StartOptions{InstanceID: id}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := c.StartSession(ctx(t), StartOptions{InstanceID: id})
	if QuotaOf(err) != RegionQuota || !strings.Contains(err.Error(), "the region has all the sessions it may have") {
		t.Errorf("third session: %v", err)
	}
	if n := e.Calls("StartTerminalSession"); n != 3 {
		t.Errorf("StartTerminalSession called %d times, want 3 (a refusal is not retried)", n)
	}
}
