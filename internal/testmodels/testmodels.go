// Package testmodels locates the shared test models and the reference outputs
// of trusted peers for tests. They live outside the repository (never
// committed) and are found through KILN_TEST_MODELS; a test that needs them
// skips, saying why, when the variable is unset.
package testmodels

import (
	"os"
	"path/filepath"
	"testing"
)

// Env is the variable that points at the models directory.
const Env = "KILN_TEST_MODELS"

// Dir returns the models directory, or skips the test when it is not set.
func Dir(tb testing.TB) string {
	tb.Helper()
	dir := os.Getenv(Env)
	if dir == "" {
		tb.Skip(Env + " is not set: skipping a test that needs the shared test models")
	}
	return dir
}

// Path joins parts onto the models directory (skipping like Dir).
func Path(tb testing.TB, parts ...string) string {
	tb.Helper()
	return filepath.Join(append([]string{Dir(tb)}, parts...)...)
}

// Reference joins parts onto the reference directory, which sits beside the
// models directory (skipping like Dir).
func Reference(tb testing.TB, parts ...string) string {
	tb.Helper()
	return filepath.Join(append([]string{Dir(tb), "..", "reference"}, parts...)...)
}
