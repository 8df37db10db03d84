package cli

import (
	"os"
	"strings"
)

// sdkDebugFlags are DEBUG items that make Alibaba's SDK libraries print to stdout: "dara" and
// "tea" print every request header, the STS token included; "credential" traces the credential
// providers. The libraries read DEBUG while the program initialises, before Main runs, so
// clearing it in-process is too late.
var sdkDebugFlags = map[string]bool{"dara": true, "tea": true, "credential": true, "sdk": true}

// stripSDKDebug returns DEBUG without the SDK's items and whether anything was removed.
func stripSDKDebug(v string) (string, bool) {
	if v == "" {
		return v, false
	}
	var keep []string
	removed := false
	for _, item := range strings.Split(v, ",") {
		if sdkDebugFlags[strings.TrimSpace(item)] {
			removed = true
			continue
		}
		keep = append(keep, item)
	}
	return strings.Join(keep, ","), removed
}

// guardSDKDebug restarts ecsterm without the SDK's debug switches when DEBUG holds one, so that
// secrets cannot reach stdout through them. --debug is ecsterm's own switch and prints no secret.
func guardSDKDebug() (code int, reexeced bool) {
	clean, removed := stripSDKDebug(os.Getenv("DEBUG"))
	if !removed {
		return 0, false
	}
	os.Setenv("DEBUG", clean)
	return reexec()
}
