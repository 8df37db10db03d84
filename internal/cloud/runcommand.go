package cloud

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	ecs "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/tea/dara"
)

// RunResult is one instance's outcome of a RunCommand invocation.
type RunResult struct {
	InstanceID           string
	Status               string // InvocationStatus; empty if no result arrived
	ExitCode             int
	Output               []byte // decoded
	Dropped              int    // bytes the service cut
	ErrorCode, ErrorInfo string
	Start, Finish        time.Time
}

// MaxScriptBase64 is RunCommand's limit on a script: 24 KB once Base64-encoded, so about 18 KB.
const MaxScriptBase64 = 24 << 10

const (
	// maxRunInstances is how many instances one RunCommand call may name.
	maxRunInstances = 100
	// pollFirst and pollMax bound the wait between DescribeInvocationResults polls.
	pollFirst = 200 * time.Millisecond
	pollMax   = 2 * time.Second
	// resultsPage is DescribeInvocationResults' largest page.
	resultsPage = 50
)

// terminal holds the InvocationStatus values after which nothing changes (docs/protocol.md,
// RunCommand and DescribeInvocationResults).
var terminal = map[string]bool{"Success": true, "Failed": true, "Error": true, "Timeout": true,
	"Cancelled": true, "Terminated": true, "Invalid": true, "Aborted": true}

// RunCommand starts script on the instances (at most 100 per call: split larger sets into several
// calls, in parallel, never sending more than 100 IDs in one) and polls DescribeInvocationResults
// until every instance is in a terminal state or ctx ends. Poll interval starts at 200 ms and
// backs off to 2 s. progress, if non-nil, is called with (done, total) as results arrive, from one
// goroutine at a time.
//
// Results are in the order of instanceIDs. A timeout of zero or less leaves the service's default
// (60 s); others are rounded up to whole seconds. When an API call fails or ctx ends, the error
// comes with the results known so far, some perhaps not terminal, and says which invocations had
// already started: their scripts keep running.
func (c *Client) RunCommand(ctx context.Context, instanceIDs []string, script string, timeout time.Duration, progress func(done, total int)) ([]RunResult, error) {
	return c.RunCommandAs(ctx, "", instanceIDs, script, timeout, progress)
}

// RunCommandAs is RunCommand as user on the instances (Username; "" leaves the agent's default,
// root or System). With a user, the client's PasswordName goes with it as WindowsPasswordName,
// as it does with StartTerminalSession's Username; without one, a PasswordName is refused.
func (c *Client) RunCommandAs(ctx context.Context, user string, instanceIDs []string, script string, timeout time.Duration, progress func(done, total int)) ([]RunResult, error) {
	content := base64.StdEncoding.EncodeToString([]byte(script))
	switch {
	case c.password != "" && user == "":
		return nil, ErrPasswordNameWithoutUser
	case len(instanceIDs) == 0:
		return nil, errors.New("no instances to run the command on")
	case len(content) > MaxScriptBase64:
		return nil, fmt.Errorf("script is %d bytes, %d in Base64: RunCommand takes at most %d bytes of Base64 (about 18 KB of script)",
			len(script), len(content), MaxScriptBase64)
	}
	var unique []string
	seen := map[string]bool{}
	for _, id := range instanceIDs {
		if !seen[id] {
			seen[id] = true
			unique = append(unique, id)
		}
	}
	t := &runTracker{results: map[string]*RunResult{}, total: len(unique), progress: progress}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for start := 0; start < len(unique); start += maxRunInstances {
		batch := unique[start:min(start+maxRunInstances, len(unique))]
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.runBatch(ctx, batch, user, content, timeout, t); err != nil {
				t.fail(err)
				cancel()
			}
		}()
	}
	wg.Wait()

	out := make([]RunResult, len(instanceIDs))
	for i, id := range instanceIDs {
		out[i] = RunResult{InstanceID: id}
		if r := t.results[id]; r != nil {
			out[i] = *r
		}
	}
	if t.err != nil {
		if len(t.started) > 0 {
			return out, fmt.Errorf("%w (the command was started as %s)", t.err, strings.Join(t.started, ", "))
		}
		return out, t.err
	}
	return out, nil
}

// runTracker collects results from the batches.
type runTracker struct {
	mu       sync.Mutex
	results  map[string]*RunResult
	done     int
	total    int
	progress func(done, total int)
	started  []string // InvokeIds
	err      error    // the first failure
}

func (t *runTracker) fail(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err == nil {
		t.err = err
	}
}

func (t *runTracker) start(invokeID string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.started = append(t.started, invokeID)
}

// update records r and reports whether it is terminal.
func (t *runTracker) update(r RunResult) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if old := t.results[r.InstanceID]; old != nil && terminal[old.Status] {
		return true
	}
	t.results[r.InstanceID] = &r
	if !terminal[r.Status] {
		return false
	}
	t.done++
	if t.progress != nil {
		t.progress(t.done, t.total)
	}
	return true
}

// runBatch runs the script on at most maxRunInstances instances and polls until all are done.
func (c *Client) runBatch(ctx context.Context, ids []string, user, content string, timeout time.Duration, t *runTracker) error {
	req := &ecs.RunCommandRequest{
		RegionId:        dara.String(c.region),
		InstanceId:      dara.StringSlice(ids),
		Type:            dara.String("RunShellScript"),
		CommandContent:  dara.String(content),
		ContentEncoding: dara.String("Base64"),
		// The same token on every attempt: a retried call that had reached the service does not
		// run the script twice.
		ClientToken: dara.String(clientToken()),
	}
	if timeout > 0 {
		req.Timeout = dara.Int64(int64((timeout + time.Second - 1) / time.Second))
	}
	if user != "" {
		req.Username = dara.String(user)
		if c.password != "" {
			req.WindowsPasswordName = dara.String(c.password)
		}
	}
	var invokeID string
	err := c.call(ctx, "RunCommand", func() error {
		resp, err := c.sdk().RunCommandWithContext(ctx, req, runtime())
		if err != nil {
			return err
		}
		if resp.Body == nil || dara.StringValue(resp.Body.InvokeId) == "" {
			return &APIError{Action: "RunCommand", Code: "EmptyResponse", Message: "the answer has no InvokeId"}
		}
		invokeID = dara.StringValue(resp.Body.InvokeId)
		return nil
	})
	if err != nil {
		return err
	}
	t.start(invokeID)
	c.log.Debug("command started", "invocation", invokeID, "instances", len(ids))

	pending := map[string]bool{}
	for _, id := range ids {
		pending[id] = true
	}
	wait := pollFirst
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for results: %w", ctx.Err())
		case <-timer.C:
		}
		if err := c.pollInvocation(ctx, invokeID, pending, t); err != nil {
			return err
		}
		if len(pending) == 0 {
			return nil
		}
		wait = min(wait*2, pollMax)
		timer.Reset(wait)
	}
}

// pollInvocation reads every page of the invocation's results once, removing the instances that
// are done from pending.
func (c *Client) pollInvocation(ctx context.Context, invokeID string, pending map[string]bool, t *runTracker) error {
	req := &ecs.DescribeInvocationResultsRequest{
		RegionId:        dara.String(c.region),
		InvokeId:        dara.String(invokeID),
		ContentEncoding: dara.String("Base64"),
		MaxResults:      dara.Int32(resultsPage),
	}
	for page := 0; page <= maxRunInstances/resultsPage+1; page++ { // a bound, should NextToken loop
		var body *ecs.DescribeInvocationResultsResponseBody
		err := c.call(ctx, "DescribeInvocationResults", func() error {
			resp, err := c.sdk().DescribeInvocationResultsWithContext(ctx, req, runtime())
			if err == nil {
				body = resp.Body
			}
			return err
		})
		if err != nil {
			return err
		}
		if body == nil || body.Invocation == nil {
			return nil
		}
		if list := body.Invocation.InvocationResults; list != nil {
			for _, item := range list.InvocationResult {
				if r := runResult(item); pending[r.InstanceID] && t.update(r) {
					delete(pending, r.InstanceID)
				}
			}
		}
		next := dara.StringValue(body.Invocation.NextToken)
		if next == "" || len(pending) == 0 {
			return nil
		}
		req.NextToken = dara.String(next)
	}
	return nil
}

func runResult(item *ecs.DescribeInvocationResultsResponseBodyInvocationInvocationResultsInvocationResult) RunResult {
	r := RunResult{
		InstanceID: dara.StringValue(item.InstanceId),
		Status:     dara.StringValue(item.InvocationStatus),
		ExitCode:   int(dara.Int64Value(item.ExitCode)),
		Dropped:    int(dara.Int32Value(item.Dropped)),
		ErrorCode:  dara.StringValue(item.ErrorCode),
		ErrorInfo:  dara.StringValue(item.ErrorInfo),
		Start:      apiTime(dara.StringValue(item.StartTime)),
		Finish:     apiTime(dara.StringValue(item.FinishedTime)),
	}
	out := dara.StringValue(item.Output)
	if b, err := base64.StdEncoding.DecodeString(out); err == nil {
		r.Output = b
	} else {
		r.Output = []byte(out) // not what was asked for, but better shown than lost
	}
	return r
}

// apiTime parses the API's ISO 8601 UTC times; the zero time means absent or unparseable.
func apiTime(s string) time.Time {
	for _, layout := range []string{"2006-01-02T15:04:05Z", "2006-01-02T15:04Z", time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return time.Time{}
}
