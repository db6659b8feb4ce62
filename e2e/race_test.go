//go:build race

package e2e

// raceDetector tells that the tests, and so the service's binary that
// TestMain builds for them, run under the race detector.
const raceDetector = true
