package cloud

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// endless answers every listing with an empty page and a NextToken never seen before, for
// three times maxPages pages (then it ends, so that a client without the bound still returns).
func endless(t *testing.T) (*Client, func(action string) int) {
	t.Helper()
	isolate(t)
	var mu sync.Mutex
	calls := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		action := r.Form.Get("Action")
		if action == "" {
			action = r.Header.Get("x-acs-action") // the SDK's V3 requests name it here
		}
		mu.Lock()
		calls[action]++
		n := calls[action]
		mu.Unlock()
		next := ""
		if n < 3*maxPages {
			next = fmt.Sprintf("token-%d", n)
		}
		list := map[string]string{
			"DescribeInstances":            `"Instances":{"Instance":[]}`,
			"DescribeTerminalSessions":     `"Sessions":{"Session":[]}`,
			"DescribeCloudAssistantStatus": `"InstanceCloudAssistantStatusSet":{"InstanceCloudAssistantStatus":[]}`,
		}[action]
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"RequestId":"req-%d","NextToken":%q,%s}`, n, next, list)
	}))
	t.Cleanup(srv.Close)
	c, err := New(Config{Region: "cn-hangzhou", Endpoint: srv.URL, AccessKeyID: "LTAIexample", AccessKeySecret: "secret", Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	return c, func(action string) int {
		mu.Lock()
		defer mu.Unlock()
		return calls[action]
	}
}

// A service that never stops paging (a new NextToken on every page, with nothing on it) ends a
// listing after maxPages pages with an error, instead of being called for ever.
func TestListingsEndAtMaxPages(t *testing.T) {
	c, calls := endless(t)
	for _, tc := range []struct {
		action string
		list   func() error
	}{
		{"DescribeInstances", func() error { _, err := c.ListInstances(ctx(t), InstanceFilter{}); return err }},
		{"DescribeTerminalSessions", func() error { _, err := c.ListTerminalSessions(ctx(t), TerminalSessionFilter{}); return err }},
		{"DescribeCloudAssistantStatus", func() error { _, err := c.AgentStatus(ctx(t), []string{idReady}); return err }},
	} {
		err := tc.list()
		var ae *APIError
		if !errors.As(err, &ae) || ae.Code != "InvalidNextToken" || ae.Action != tc.action {
			t.Errorf("%s: err = %v, want InvalidNextToken", tc.action, err)
		}
		if n := calls(tc.action); n != maxPages {
			t.Errorf("%s called %d times, want %d", tc.action, n, maxPages)
		}
	}
}
