package main

import (
	"errors"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// buildHoard builds the hoard binary into a temporary directory.
func buildHoard(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hoard")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	cmd := exec.CommandContext(t.Context(), "go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestBinaryNodeInit pipes the protocol's init example through the built
// binary started with no arguments, as a message harness does.
func TestBinaryNodeInit(t *testing.T) {
	bin := buildHoard(t)
	cmd := exec.CommandContext(t.Context(), bin)
	cmd.Stdin = strings.NewReader(`{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}` + "\n")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("hoard: %v\nstderr: %s", err, stderr.String())
	}
	want := `{"src":"n1","dest":"c0","body":{"type":"init_ok","in_reply_to":1,"msg_id":0}}` + "\n"
	if string(out) != want {
		t.Errorf("stdout = %q, want %q", out, want)
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr = %q, want nothing", stderr.String())
	}
}

// TestBinaryBadFlag checks that a bad flag exits 2 and names the flag.
func TestBinaryBadFlag(t *testing.T) {
	bin := buildHoard(t)
	cmd := exec.CommandContext(t.Context(), bin, "serve", "--origin", "http://127.0.0.1:1", "--max-memory", "lots")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("exit = %v, want status 2; output %q", err, out)
	}
	if !strings.Contains(string(out), "--max-memory") {
		t.Errorf("output %q does not name --max-memory", out)
	}
}

// TestBinaryVersion checks that the built binary names the commit it was
// built from, as git knows it, or says "unknown" when the toolchain
// recorded none (GOFLAGS=-buildvcs=false, a copy without .git).
func TestBinaryVersion(t *testing.T) {
	bin := buildHoard(t)
	out, err := exec.CommandContext(t.Context(), bin, "--version").Output()
	if err != nil {
		t.Fatalf("hoard --version: %v", err)
	}
	want := []string{"commit unknown\n"}
	if head, err := exec.CommandContext(t.Context(), "git", "rev-parse", "HEAD").Output(); err == nil {
		commit := "commit " + strings.TrimSpace(string(head))
		want = append(want, commit+"\n", commit+" (modified)\n")
	}
	if !strings.HasPrefix(string(out), "hoard ") || !slices.ContainsFunc(want, func(w string) bool { return strings.HasSuffix(string(out), w) }) {
		t.Errorf("hoard --version = %q, want it to end with one of %q", out, want)
	}
}
