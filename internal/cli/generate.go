package cli

// The shell completion scripts committed in completions/ are generated from the command tree
// built here, so the generator lives beside this package (completions_test.go fails when they
// are stale).

//go:generate go run ./gen ../../completions
