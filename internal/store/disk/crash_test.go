package disk

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoard-cache/hoard/internal/store"
	"github.com/hoard-cache/hoard/internal/store/storetest"
)

const (
	// crashEnv names the directory TestCrashChild writes to. TestCrash sets
	// it; when it is empty, TestCrashChild skips.
	crashEnv = "HOARD_DISK_CRASH_DIR"
	// crashReady is the line TestCrashChild prints once the store is open.
	crashReady = "ready"
	// crashKeys is how many keys the child writes; they cycle, so
	// entries are overwritten, and a store of crashMaxBytes evicts.
	crashKeys     = 40
	crashMaxBytes = 4 << 20
	crashRuns     = 20
)

// TestCrash kills a process writing to a store at random moments, with
// SIGKILL, and checks after each kill that the reopened store returns only
// whole entries: every body read is exactly the one written with the
// metadata read beside it, never a torn or mixed one. It also checks that
// the size record survived each crash in agreement with the entries.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes for several seconds; skipped with -short")
	}
	dir := t.TempDir()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	deadline := time.Now().Add(12 * time.Second)
	found, runs := 0, 0
	for ; runs < crashRuns && time.Now().Before(deadline); runs++ {
		writeUntilKilled(t, dir, time.Duration(10+rng.IntN(290))*time.Millisecond)
		found += checkCrashedStore(t, dir)
		if t.Failed() {
			t.Fatalf("after crash %d", runs+1)
		}
	}
	t.Logf("%d crashes, %d entries checked", runs, found)
	if found == 0 {
		t.Errorf("no entry survived any of %d crashes: the test checked nothing", runs)
	}
}

// writeUntilKilled runs TestCrashChild on dir in a child process and kills
// it delay after it has opened the store.
func writeUntilKilled(t *testing.T, dir string, delay time.Duration) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the child: %v", err)
	}
	// Wait until the store is open, so that the kill lands among writes.
	out := bufio.NewReader(stdout)
	line, err := out.ReadString('\n')
	if strings.TrimSpace(line) != crashReady {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child did not open the store (%q, %v); its stderr:\n%s", line, err, &stderr)
	}
	// Keep reading, so that what the child prints (a test failure goes to
	// stdout) neither blocks it nor is lost.
	var rest bytes.Buffer
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		io.Copy(&rest, out) // ends with the child; an error here is its death
	}()

	// The delay is the crash's random moment, not a wait for an event.
	time.Sleep(delay)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatalf("killing the child: %v", err)
	}
	<-copied
	// Wait's error is the expected "signal: killed"; only an exit of the
	// child's own would be wrong.
	_ = cmd.Wait()
	if cmd.ProcessState.Exited() {
		t.Fatalf("child exited with %v before it was killed; its output:\n%s%s", cmd.ProcessState, &rest, &stderr)
	}
}

// checkCrashedStore opens the store a killed child left and checks every
// key. It returns how many entries it found.
func checkCrashedStore(t *testing.T, dir string) int {
	t.Helper()
	var logs syncBuffer
	s, err := Open(Options{
		Path:     dir,
		MaxBytes: crashMaxBytes,
		Logger:   slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatalf("reopening after the crash: %v", err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	if logs.String() != "" {
		t.Errorf("reopening after the crash logged:\n%s", logs.String())
	}
	found, corrupt := 0, 0
	for i := range crashKeys {
		key := crashKey(i)
		e, body, err := s.Get(t.Context(), key)
		switch {
		case errors.Is(err, store.ErrNotFound):
			continue
		case errors.Is(err, store.ErrCorrupt):
			// Reported rather than served, which the proxy could live
			// with; but a commit is one bbolt transaction, and a killed
			// process loses none of the file's writes, so a torn entry
			// here is a bug of the store's.
			corrupt++
			continue
		case err != nil:
			t.Errorf("Get(%s) after the crash: %v", key, err)
			continue
		}
		got, err := io.ReadAll(body)
		body.Close()
		if err != nil {
			t.Errorf("Get(%s): reading the body: %v", key, err)
			continue
		}
		found++
		version := e.Header.Get("X-Version")
		want := crashBody(key, version)
		if !bytes.Equal(got, want) || e.Size != int64(len(want)) {
			t.Errorf("Get(%s) after the crash: version %q with a body of %d bytes (Size %d) that is not the one written with it (%d bytes)",
				key, version, len(got), e.Size, len(want))
		}
	}
	if corrupt > 0 {
		t.Errorf("%d entries read as corrupt after a crash", corrupt)
	}
	// The store takes writes again.
	storetest.Put(t, s, "after-crash", store.Entry{Status: http.StatusOK}, []byte("ok"))
	return found
}

// TestCrashChild is the process TestCrash kills: it writes, overwrites and
// deletes entries in the store in $HOARD_DISK_CRASH_DIR until killed. Run
// on its own, it skips.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("the child of TestCrash")
	}
	s, err := Open(Options{Path: dir, MaxBytes: crashMaxBytes})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println(crashReady)
	pid := os.Getpid()
	rng := rand.New(rand.NewPCG(uint64(pid), uint64(time.Now().UnixNano())))
	// Stop by itself should the parent die without killing it.
	deadline := time.Now().Add(30 * time.Second)
	for v := 0; time.Now().Before(deadline); v++ {
		key := crashKey(rng.IntN(crashKeys))
		var err error
		switch rng.IntN(20) {
		case 0:
			err = s.Delete(t.Context(), key)
		case 1:
			_, err = s.DeletePrefix(t.Context(), key[:len(key)-1])
		case 2:
			_, err = s.DeleteTag(t.Context(), key[len(key)-1:])
		default:
			version := fmt.Sprintf("%d.%d", pid, v)
			err = crashPut(t, s, key, version)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func crashKey(i int) string {
	return fmt.Sprintf("crash/%02d", i)
}

// crashPut writes the version of key, its body in a few writes.
func crashPut(t *testing.T, s *Store, key, version string) error {
	e := store.Entry{
		Status: http.StatusOK,
		Header: http.Header{"X-Version": {version}},
		Tags:   []string{key[len(key)-1:]},
	}
	w, err := s.Put(t.Context(), key, e)
	if err != nil {
		return err
	}
	body := crashBody(key, version)
	for len(body) > 0 {
		n := min(len(body), 100<<10)
		if _, err := w.Write(body[:n]); err != nil {
			w.Abort()
			return err
		}
		body = body[n:]
	}
	return w.Commit()
}

// crashBody is the body of one version of key: the SHA-256 of both,
// repeated to a length that the digest also sets. One body in eight spans
// several chunks.
func crashBody(key, version string) []byte {
	sum := sha256.Sum256([]byte(key + "\x00" + version))
	n := 1 + int(binary.BigEndian.Uint32(sum[:4])%(64<<10))
	if sum[4]%8 == 0 {
		n = chunkSize + int(binary.BigEndian.Uint32(sum[:4])%(3*chunkSize))
	}
	return bytes.Repeat(sum[:], n/len(sum)+1)[:n]
}

// syncBuffer is a bytes.Buffer safe for concurrent use, for a logger.
type syncBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
