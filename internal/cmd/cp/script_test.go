package cp

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// runScript runs a cp script as the remote side does, `"$SHELL" -c <script>`, here with sh.
func runScript(t *testing.T, script string, stdin []byte) (status int, stdout, stderr string) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the scripts are POSIX sh")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	cmd := exec.Command(sh, "-c", script)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), out.String(), errb.String()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, out.String(), errb.String()
}

func names(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n []string
	for _, e := range ents {
		n = append(n, e.Name())
	}
	return strings.Join(n, ",")
}

func TestUploadFileScript(t *testing.T) {
	dir := t.TempDir()
	data := []byte("payload\n")
	status, out, errs := runScript(t, uploadFileScript(dir+"/", "a 'b'", sha(string(data)), 0o750), data)
	if status != 0 || errs != "" || out != "ecsterm-cp ok "+sha(string(data))+" "+dir+"/a 'b'\x00" {
		t.Fatalf("status %d, stdout %q, stderr %q", status, out, errs)
	}
	fi, err := os.Stat(filepath.Join(dir, "a 'b'"))
	if err != nil || fi.Mode().Perm()&0o700 != 0o700 || fi.Mode().Perm()&0o007 != 0 {
		t.Errorf("mode %v, %v", fi.Mode(), err)
	}

	// The instance received other bytes than were hashed: status 4, the destination untouched
	// and no temporary file left.
	status, out, errs = runScript(t, uploadFileScript(dir+"/a 'b'", "ignored", sha("something else"), 0o644), []byte("corrupt"))
	if status != statusMismatch || out != "" || !strings.Contains(errs, "checksum mismatch") {
		t.Errorf("mismatch: status %d, stdout %q, stderr %q", status, out, errs)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "a 'b'")); string(b) != string(data) {
		t.Errorf("destination changed to %q", b)
	}
	if got := names(t, dir); got != "a 'b'" {
		t.Errorf("directory holds %s", got)
	}

	status, _, errs = runScript(t, uploadFileScript(dir+"/missing/", "x", sha(""), 0o644), nil)
	if status != 3 || !strings.Contains(errs, "No such directory") {
		t.Errorf("missing directory: status %d, stderr %q", status, errs)
	}
}

func TestUploadTreeScriptMismatch(t *testing.T) {
	dir := t.TempDir()
	archive := makeTar(t,
		tarEntry{name: "d/", typ: '5', mode: 0o755},
		tarEntry{name: "d/f", typ: '0', body: "what arrived"},
		tarEntry{name: "m", typ: '0', body: sha("what was sent") + "  f\n"},
	)
	status, out, errs := runScript(t, uploadTreeScript(dir+"/copy", "ignored"), archive)
	if status != statusMismatch || out != "" || !strings.Contains(errs, "checksum mismatch") {
		t.Errorf("status %d, stdout %q, stderr %q", status, out, errs)
	}
	if got := names(t, dir); got != "" {
		t.Errorf("directory holds %s", got)
	}

	archive = makeTar(t,
		tarEntry{name: "d/", typ: '5', mode: 0o755},
		tarEntry{name: "d/f", typ: '0', body: "what was sent"},
		tarEntry{name: "m", typ: '0', body: sha("what was sent") + "  f\n"},
	)
	status, out, errs = runScript(t, uploadTreeScript(dir+"/copy", "ignored"), archive)
	if status != 0 || out != "ecsterm-cp ok 1 "+dir+"/copy\x00" || errs != "" {
		t.Errorf("status %d, stdout %q, stderr %q", status, out, errs)
	}
}

func TestDownloadScript(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("abc"), 0o640)
	status, out, errs := runScript(t, downloadScript(dir+"/f", false), nil)
	if status != 0 || out != "ecsterm-cp f 3 640 f\x00abc" || errs != sumsMarker+sha("abc")+"  -\n" {
		t.Errorf("file: status %d, stdout %q, stderr %q", status, out, errs)
	}
	status, out, errs = runScript(t, downloadScript(dir, false), nil)
	if status != 3 || out != "" || !strings.Contains(errs, "use -r") {
		t.Errorf("directory without -r: status %d, stdout %q, stderr %q", status, out, errs)
	}
	status, out, errs = runScript(t, downloadScript(dir+"/nope", true), nil)
	if status != 3 || out != "" || !strings.Contains(errs, "No such file") {
		t.Errorf("missing: status %d, stdout %q, stderr %q", status, out, errs)
	}
	status, out, errs = runScript(t, downloadScript(dir+"/", true), nil)
	if status != 0 || !strings.HasPrefix(out, "ecsterm-cp d -1 0 "+filepath.Base(dir)+"\x00") || !strings.HasSuffix(errs, sumsMarker+sha("abc")+"  ./f\n") {
		t.Errorf("directory: status %d, stdout %.40q, stderr %q", status, out, errs)
	}
}

// TestDownloadScriptIgnoresCDPATH: a relative source is the one under the working directory
// (the remote home), whatever CDPATH the remote environment exports.
func TestDownloadScriptIgnoresCDPATH(t *testing.T) {
	home, other := t.TempDir(), t.TempDir()
	for d, body := range map[string]string{home: "mine", other: "decoy"} {
		os.MkdirAll(filepath.Join(d, "sub"), 0o755)
		os.WriteFile(filepath.Join(d, "sub", "f"), []byte(body), 0o644)
	}
	cmd := exec.Command("sh", "-c", downloadScript("sub", true))
	cmd.Dir = home
	cmd.Env = append(os.Environ(), "CDPATH="+other)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %s", err, errb.String())
	}
	if !strings.HasPrefix(out.String(), "ecsterm-cp d -1 0 sub\x00") || !strings.HasSuffix(errb.String(), sumsMarker+sha("mine")+"  ./f\n") {
		t.Errorf("stdout %.40q, stderr %q", out.String(), errb.String())
	}
}
