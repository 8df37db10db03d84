package emulator

import (
	"testing"

	ecs "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/tea/tea"
)

// TestDescribeTerminalSessionsPages: sessions are listed newest first, MaxResults a page with a
// NextToken for the rest, and a session EndTerminalSession ended is still listed, Terminated.
func TestDescribeTerminalSessionsPages(t *testing.T) {
	e := testEmulator(t, Options{})
	c := apiClient(t, e)
	var started []string
	for range 3 {
		resp, err := c.StartTerminalSession(&ecs.StartTerminalSessionRequest{RegionId: tea.String(e.Region()), InstanceId: ids(1)})
		if err != nil {
			t.Fatal(err)
		}
		started = append(started, tea.StringValue(resp.Body.SessionId))
	}
	if _, err := c.EndTerminalSession(&ecs.EndTerminalSessionRequest{RegionId: tea.String(e.Region()), SessionId: tea.String(started[1])}); err != nil {
		t.Fatal(err)
	}
	got := map[string]*ecs.DescribeTerminalSessionsResponseBodySessionsSession{}
	req := &ecs.DescribeTerminalSessionsRequest{RegionId: tea.String(e.Region()), MaxResults: tea.Int32(2)}
	pages := 0
	for {
		resp, err := c.DescribeTerminalSessions(req)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if n := len(resp.Body.Sessions.Session); n > 2 {
			t.Errorf("page of %d with MaxResults 2", n)
		}
		for _, s := range resp.Body.Sessions.Session {
			got[tea.StringValue(s.SessionId)] = s
		}
		if tea.StringValue(resp.Body.NextToken) == "" {
			break
		}
		req.NextToken = resp.Body.NextToken
	}
	if pages != 2 || len(got) != 3 {
		t.Fatalf("%d pages, %d sessions; want 2 pages, 3 sessions", pages, len(got))
	}
	for i, id := range started {
		s := got[id]
		if s == nil || len(s.Connections.Connection) != 1 {
			t.Fatalf("session %s: %v", id, s)
		}
		conn := s.Connections.Connection[0]
		want := "Connecting"
		if i == 1 {
			want = "Terminated"
			if tea.StringValue(conn.EndTime) == "" || tea.StringValue(conn.ClosedReason) != reasonTerminated {
				t.Errorf("ended session: EndTime %q, ClosedReason %q", tea.StringValue(conn.EndTime), tea.StringValue(conn.ClosedReason))
			}
		}
		if st := tea.StringValue(conn.Status); st != want || tea.StringValue(conn.InstanceId) != idDemo {
			t.Errorf("session %s: status %s on %s, want %s on %s", id, st, tea.StringValue(conn.InstanceId), want, idDemo)
		}
	}

	_, err := c.DescribeTerminalSessions(&ecs.DescribeTerminalSessionsRequest{RegionId: tea.String(e.Region()), MaxResults: tea.Int32(101)})
	if code, _ := errorCode(t, err); code != "InvalidParameter" {
		t.Errorf("MaxResults 101: %s, want InvalidParameter", code)
	}
}
