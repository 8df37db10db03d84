package exec

import (
	"context"
	"fmt"

	"github.com/ecsterm/ecsterm/internal/text"
)

// viaRunCommand runs the command through Cloud Assistant's own engine (RunCommand, then polling
// DescribeInvocationResults): one API call per 100 instances instead of a session each, at the
// price of buffered output cut at 24 KB and no stdin.
func viaRunCommand(ctx context.Context, opts *Options) error {
	ios := opts.IO
	progress := func(done, total int) {}
	if ios.IsStderrTTY() && !opts.JSON {
		progress = func(done, total int) {
			fmt.Fprintf(ios.ErrOut, "\r%d/%d instances done", done, total)
			if done == total {
				fmt.Fprint(ios.ErrOut, "\r\033[K")
			}
		}
	}
	runs, err := opts.API.RunCommandAs(ctx, opts.User, opts.Targets, opts.Command, opts.Timeout, progress)
	if err != nil {
		return err
	}
	results := make([]result, len(runs))
	for i, r := range runs {
		res := result{InstanceID: r.InstanceID, Stdout: string(r.Output), Dropped: r.Dropped, Status: r.Status,
			DurationMS: r.Finish.Sub(r.Start).Milliseconds()}
		if res.DurationMS < 0 {
			res.DurationMS = 0
		}
		switch r.Status {
		case "Success", "Failed":
			code := r.ExitCode
			res.ExitStatus = &code
		default:
			msg := fmt.Sprintf("%s: invocation %s", r.InstanceID, r.Status)
			if r.ErrorCode != "" || r.ErrorInfo != "" {
				msg += fmt.Sprintf(": %s %s", r.ErrorCode, r.ErrorInfo)
			}
			res.Error = &msg
		}
		results[i] = res
		if opts.JSON {
			continue
		}
		w := ios.Out
		if !opts.NoPrefix && len(opts.Targets) > 1 {
			pw := newPrefixWriter(ios.Out, r.InstanceID)
			_, _ = pw.Write(r.Output)
			pw.Flush()
		} else {
			_, _ = w.Write(r.Output)
		}
		if r.Dropped > 0 {
			fmt.Fprintf(ios.ErrOut, "ecsterm: %s: the service cut %d bytes of output (RunCommand keeps 24 KB)\n", text.Escape(r.InstanceID), r.Dropped)
		}
		if res.Error != nil {
			fmt.Fprintf(ios.ErrOut, "ecsterm: %s\n", text.OneLine(*res.Error))
		}
	}
	return finish(opts, ios, results)
}
