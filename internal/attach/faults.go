package attach

// injectFaults, when set, runs once the local terminal is raw in an interactive session. Only
// binaries built with the ecsterm_faults tag set it (faults_inject.go), for the end-to-end test
// that a panic in another goroutine, which runs no deferred cleanup anywhere, still leaves the
// terminal restored. Release builds have no such code.
var injectFaults func()
