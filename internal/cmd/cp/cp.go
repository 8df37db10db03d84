// Package cp implements `ecsterm cp`: files and directory trees to and from an instance,
// through the same exec sessions as `ecsterm exec`, verified with SHA-256 end to end.
//
// A copy is one session running one remote sh script (script.go). An upload streams the file,
// or a tar of the tree, into the script's stdin; the script writes it next to the destination,
// checks it against the hashes computed here, and only then moves it into place. A download
// reads a header, then the file or a tar of the tree, from the script's stdout, and the
// hashes from its stderr (which arrives after stdout); it writes next to the local
// destination and renames into place only once every hash matches. Neither side ever leaves
// a half-copied file where the destination was.
package cp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/complete"
	"github.com/ecsterm/ecsterm/internal/config"
	"github.com/ecsterm/ecsterm/internal/iostreams"
	"github.com/ecsterm/ecsterm/internal/persist"
	"github.com/ecsterm/ecsterm/internal/target"
	"github.com/ecsterm/ecsterm/internal/target/picker"
	"github.com/ecsterm/ecsterm/internal/text"
)

// Location is one side of a copy: a local path, or a path on an instance.
type Location struct {
	Instance string // the target as given, then its instance ID; empty for a local path
	spec     target.Spec
	User     string
	Path     string // on an instance, "" is the remote user's home directory
}

// Remote reports whether the location is on an instance.
func (l Location) Remote() bool { return l.Instance != "" }

func (l Location) String() string {
	if !l.Remote() {
		return l.Path
	}
	return l.Instance + ":" + l.Path
}

// API is what cp needs of the cloud client: listing instances, to resolve the remote side's
// target. *cloud.Client is the real one.
type API interface {
	target.Lister
}

var _ API = (*cloud.Client)(nil)

// Options are everything cpRun needs: flags and arguments, the settings it uses from the
// configuration, the API that resolves the target, and the seam that reaches the instance.
type Options struct {
	IO *iostreams.IOStreams
	// API and Sessions are called only once the local side checks out, so that a missing
	// local file is reported as such and not as missing credentials.
	API      func() (API, error)
	Sessions func() (cmdutil.Sessions, error)

	// From the configuration.
	JSON  bool // -o json
	Quiet bool // -q: no progress bar, no status lines

	expand    func(string) string // target alias expansion
	Src, Dst  Location
	User      string // -l, or the user@ of the remote side
	Recursive bool
	NoResume  bool
}

// NewCmdCp builds the command. runF replaces cpRun in tests of flag parsing.
func NewCmdCp(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	if runF == nil {
		runF = cpRun
	}
	var persistFlag string
	cmd := &cobra.Command{
		Use:   "cp [-r] [-l user] <src> <dst>",
		Short: "Copy files and directories to and from an instance, checksummed",
		Long: `Copy a file or, with -r, a directory tree between this machine and an instance, as scp
does. Exactly one side is on an instance, written [user@]<instance-id>:<path>; a path on the
instance is relative to the remote user's home directory, and ~/ is that home directory.

The data travels through an exec session (the same mechanism as 'ecsterm exec'): no port, no
SSH key. Every file is checked with SHA-256 at both ends. The copy is written next to its
destination and moved into place only once its checksum matches, so a failed copy leaves the
destination as it was.

As with cp and scp, a file copied onto an existing directory goes inside it under its own
name, and a directory copied onto an existing directory becomes a subdirectory of it (onto a
path that does not exist, it becomes that path). The name is the source path's last element,
never one the instance picks; a source ending in /. copies a directory's contents, and ~ or /
(which have no name of their own) need a destination that does not exist yet. Directory
copies keep regular files, directories and symbolic links, with their permission bits and
modification times; merged into an existing local tree, they follow no link found there.

A progress bar is drawn on stderr when it is a terminal (not with -q). Nothing is printed on
success, except one JSON object with -o json. Exit status: 0, 255 when the copy failed, 2 for
a usage error.`,
		Example: `  ecsterm cp ./site.tgz i-bp1eifrtpxa9tb0001:/tmp/
  ecsterm cp i-bp1eifrtpxa9tb0001:/var/log/app.log .
  ecsterm cp -r ./conf admin@i-bp1eifrtpxa9tb0001:~/conf
  ecsterm cp -r i-bp1eifrtpxa9tb0001:/etc/nginx ./backup/`,
		Args:              cobra.ExactArgs(2),
		ValidArgsFunction: complete.Copy(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			// A configuration that fails to load expands no alias; its error comes after the
			// usage errors.
			var cfg *config.Config
			var cfgErr error
			if f.Config != nil {
				cfg, cfgErr = f.Config()
			}
			if cfg != nil && cfgErr == nil {
				aliases := cfg.Aliases()
				opts.expand = func(s string) string { return target.ExpandAlias(s, aliases) }
			}
			if err := opts.parseArgs(args[0], args[1]); err != nil {
				return err
			}
			if cfgErr != nil {
				return cfgErr
			}
			if cfg != nil {
				opts.JSON = cfg.Output == "json"
				opts.Quiet = cfg.Quiet
			}
			opts.API = func() (API, error) { return f.Cloud() }
			idle, err := persist.Idle(persistFlag, cfg)
			if err != nil {
				return &cmdutil.FlagError{Err: err}
			}
			opts.Sessions = f.Sessions
			if idle > 0 {
				opts.Sessions = func() (cmdutil.Sessions, error) {
					s, err := f.Sessions()
					if err != nil {
						return nil, err
					}
					return persist.Wrap(s, persist.SettingsFrom(cfg, idle, f.Logger())), nil
				}
			}
			return runF(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&opts.Recursive, "recursive", "r", false, "copy directories and their contents")
	fl.StringVar(&persistFlag, "persist", "", persist.FlagUsage)
	fl.StringVarP(&opts.User, "user", "l", "", "the user on the instance")
	fl.BoolVar(&opts.NoResume, "no-resume", false, "speak session schema 1.01 only: a dropped connection ends the session instead of reconnecting to it")
	return cmd
}

// location parses one side, expanding a target alias in its host part.
func (o *Options) location(arg string) (Location, error) {
	l, err := ParseLocation(arg)
	if err != nil || !l.Remote() || o.expand == nil {
		return l, err
	}
	host := l.Instance
	if l.User != "" {
		host = l.User + "@" + host
	}
	if to := o.expand(host); to != host {
		return ParseLocation(to + ":" + l.Path)
	}
	return l, nil
}

// parseArgs fills Src, Dst and User, and refuses what is not a copy to or from one instance.
func (o *Options) parseArgs(src, dst string) error {
	var err error
	if o.Src, err = o.location(src); err != nil {
		return err
	}
	if o.Dst, err = o.location(dst); err != nil {
		return err
	}
	switch {
	case o.Src.Remote() && o.Dst.Remote():
		return cmdutil.FlagErrorf("both %q and %q are on instances: one side must be a local path", src, dst)
	case !o.Src.Remote() && !o.Dst.Remote():
		return cmdutil.FlagErrorf("neither %q nor %q is on an instance: write one side as <instance>:<path>", src, dst)
	}
	for _, l := range []Location{o.Src, o.Dst} {
		if l.Remote() {
			if l.User != "" && o.User != "" && l.User != o.User {
				return cmdutil.FlagErrorf("user given twice: %q in %q and %q with --user", l.User, l.String(), o.User)
			}
			if l.User != "" {
				o.User = l.User
			}
		} else if l.Path == "" {
			return cmdutil.FlagErrorf("empty local path")
		}
	}
	return nil
}

// ParseLocation reads [user@]<target>:<path> or a local path, as scp does: a colon with no
// slash before it makes a remote location, whose target is an instance ID, a name, an IP, or
// tag:key=value / name:x (whose own colon does not count). Write ./a:b for a local file named
// a:b.
func ParseLocation(arg string) (Location, error) {
	at := 0
	if i := strings.IndexByte(arg, '@'); i >= 0 && !strings.ContainsAny(arg[:i], ":/\\") {
		at = i + 1
	}
	skip := at
	for _, prefix := range []string{"tag:", "name:"} {
		if strings.HasPrefix(arg[at:], prefix) {
			skip = at + len(prefix)
		}
	}
	colon := strings.IndexByte(arg[skip:], ':')
	if colon < 0 {
		return Location{Path: arg}, nil
	}
	host, p := arg[:skip+colon], arg[skip+colon+1:]
	if host == "" || strings.ContainsAny(host, `/\`) || len(host) == 1 && strings.HasPrefix(p, `\`) {
		return Location{Path: arg}, nil // a path, or a Windows drive letter
	}
	if strings.HasPrefix(host, "@") {
		return Location{}, cmdutil.FlagErrorf("no user before @ in %q", arg)
	}
	spec, err := target.Parse(host)
	if err != nil {
		return Location{}, &cmdutil.FlagError{Err: err}
	}
	inst := host
	if spec.User != "" {
		inst = strings.TrimPrefix(host, spec.User+"@")
	}
	return Location{Instance: inst, User: spec.User, Path: p, spec: spec}, nil
}

// result is what -o json prints for a copy that succeeded.
type result struct {
	Src        string `json:"src"`
	Dst        string `json:"dst"`
	Bytes      int64  `json:"bytes"`
	SHA256     string `json:"sha256,omitempty"` // a single file
	Files      *int   `json:"files,omitempty"`  // a directory: how many regular files
	DurationMS int64  `json:"duration_ms"`
}

// cpRun copies to or from the instance: one exec session, through opts.Sessions.
func cpRun(ctx context.Context, opts *Options) error {
	// The API is called only once the local side checks out, so that a missing local file is
	// reported as such and not as missing credentials. The remote side's target is resolved to
	// an instance ID with it, once, before the session.
	c := &copier{opts: opts}
	c.sessions = cmdutil.Once(func() (cmdutil.Sessions, error) {
		api, err := opts.API()
		if err != nil {
			return nil, err
		}
		loc := &opts.Dst
		if opts.Src.Remote() {
			loc = &opts.Src
		}
		inst, err := target.One(ctx, api, loc.spec, picker.For(opts.IO))
		if err != nil {
			return nil, err
		}
		loc.Instance = inst.ID
		return opts.Sessions()
	})
	start := time.Now()
	var (
		res *result
		err error
	)
	if opts.Src.Remote() {
		res, err = c.download(ctx)
	} else {
		res, err = c.upload(ctx)
	}
	if err != nil {
		return fmt.Errorf("cp: %w", err)
	}
	if opts.JSON {
		res.DurationMS = time.Since(start).Milliseconds()
		return cmdutil.NewJSONEncoder(opts.IO.Out).Encode(res)
	}
	return nil
}

// errSessionOver closes the local end of a stream once the session is over, so that a
// goroutine still reading or writing it stops.
var errSessionOver = errors.New("the session ended")

// remoteError explains a non-zero status of a cp script from what it printed on stderr.
func remoteError(instance string, status int, stderr []byte) error {
	msg := text.OneLine(string(stderr))
	if msg == "" {
		msg = fmt.Sprintf("the copy failed on the instance (exit status %d)", status)
	}
	return fmt.Errorf("%s: %s", instance, msg)
}

// printable shows remote text with its control characters escaped (see text.Escape).
func printable(b []byte) string { return text.Escape(string(b)) }
