package cloud

import (
	"context"
	"fmt"

	ecs "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/tea/dara"
)

// TerminalSession is one session as DescribeTerminalSessions reports it: every StartTerminalSession
// of the account in the region, for about four weeks, with its connections.
type TerminalSession struct {
	ID           string
	CreationTime string
	ClientIP     string
	IdentityType string
	PrincipalID  string
	Username     string
	// PortNumber and TargetServer are set for a port session; neither for a shell.
	PortNumber   int
	TargetServer string
	Connections  []TerminalConnection
}

// TerminalConnection is one instance's connection of a session.
type TerminalConnection struct {
	InstanceID string
	// Status is Connecting, Connected, Terminated or Failed.
	Status       string
	StartTime    string
	EndTime      string
	ClosedReason string
	FailedDetail string
}

// TerminalSessionFilter narrows DescribeTerminalSessions to one instance or one session.
type TerminalSessionFilter struct {
	InstanceID string
	SessionID  string
}

const (
	terminalSessionsPage = 100 // the API's largest MaxResults
	// maxTerminalSessions bounds one listing: a service that never stops paging must not make
	// ecsterm collect forever.
	maxTerminalSessions = 20000
)

// ListTerminalSessions walks every DescribeTerminalSessions page for f.
func (c *Client) ListTerminalSessions(ctx context.Context, f TerminalSessionFilter) ([]TerminalSession, error) {
	req := &ecs.DescribeTerminalSessionsRequest{RegionId: dara.String(c.region), MaxResults: dara.Int32(terminalSessionsPage)}
	if f.InstanceID != "" {
		req.InstanceId = dara.String(f.InstanceID)
	}
	if f.SessionID != "" {
		req.SessionId = dara.String(f.SessionID)
	}
	var out []TerminalSession
	err := walk(ctx, c, "DescribeTerminalSessions", func(token *string) (*ecs.DescribeTerminalSessionsResponseBody, error) {
		req.NextToken = token
		resp, err := c.sdk().DescribeTerminalSessionsWithContext(ctx, req, runtime())
		if err != nil {
			return nil, err
		}
		return resp.Body, nil
	}, func(body *ecs.DescribeTerminalSessionsResponseBody) (string, string, bool, error) {
		if body == nil {
			return "", "", true, nil
		}
		if body.Sessions != nil {
			for _, s := range body.Sessions.Session {
				if s != nil {
					out = append(out, terminalSession(s))
				}
			}
		}
		next, requestID := dara.StringValue(body.NextToken), dara.StringValue(body.RequestId)
		if next != "" && len(out) >= maxTerminalSessions {
			return "", "", false, &APIError{Action: "DescribeTerminalSessions", Code: "InvalidNextToken", RequestID: requestID,
				Message: fmt.Sprintf("the listing does not end (more than %d sessions)", maxTerminalSessions)}
		}
		return next, requestID, false, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func terminalSession(s *ecs.DescribeTerminalSessionsResponseBodySessionsSession) TerminalSession {
	out := TerminalSession{
		ID: dara.StringValue(s.SessionId), CreationTime: dara.StringValue(s.CreationTime),
		ClientIP: dara.StringValue(s.ClientIP), IdentityType: dara.StringValue(s.IdentityType),
		PrincipalID: dara.StringValue(s.PrincipalId), Username: dara.StringValue(s.Username),
		PortNumber: int(dara.Int32Value(s.PortNumber)), TargetServer: dara.StringValue(s.TargetServer),
	}
	if s.Connections != nil {
		for _, c := range s.Connections.Connection {
			if c == nil {
				continue
			}
			out.Connections = append(out.Connections, TerminalConnection{
				InstanceID: dara.StringValue(c.InstanceId), Status: dara.StringValue(c.Status),
				StartTime: dara.StringValue(c.StartTime), EndTime: dara.StringValue(c.EndTime),
				ClosedReason: dara.StringValue(c.ClosedReason), FailedDetail: dara.StringValue(c.FailedDetail),
			})
		}
	}
	return out
}

// EndTerminalSession calls EndTerminalSession for a session ecsterm did not start (`ecsterm
// sessions end`), within ctx.
func (c *Client) EndTerminalSession(ctx context.Context, id string) error {
	req := &ecs.EndTerminalSessionRequest{RegionId: dara.String(c.region), SessionId: dara.String(id)}
	return c.call(ctx, "EndTerminalSession", func() error {
		_, err := c.sdk().EndTerminalSessionWithContext(ctx, req, runtime())
		return err
	})
}
