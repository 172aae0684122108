package testsupport

import (
	"bytes"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Verbose reports whether FEEDD_TEST_LOG asks the tests to show the logs
// of what they run.
func Verbose() bool { return os.Getenv("FEEDD_TEST_LOG") != "" }

// Logger is the logger for the code under test: it discards everything
// unless Verbose, then it writes every level to stderr.
func Logger() *slog.Logger {
	if Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// SyncBuffer is a bytes.Buffer that the code under test may write while
// the test reads it.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// ClosedAddr returns a 127.0.0.1 address nothing listens on: its port was
// free a moment ago, so a test can also have something listen there.
func ClosedAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// Serve listens on a free 127.0.0.1 port and hands each connection to
// handle, one after the other, until stop is called or the test ends; it
// returns the address. stop also closes the connections handle left open,
// which a test calls before it stops the client that holds them.
func Serve(t testing.TB, handle func(net.Conn)) (addr string, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
			handle(c)
		}
	}()
	stop = sync.OnceFunc(func() {
		ln.Close()
		<-done
	})
	t.Cleanup(stop)
	return ln.Addr().String(), stop
}

// ReadFile returns the text of the file at path, failing the test if it
// cannot be read.
func ReadFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// WaitFor polls cond until it holds, failing the test after limit; the
// failure names what the test waited for and what cond last said of the
// state.
func WaitFor(t testing.TB, limit time.Duration, what string, cond func() (ok bool, state string)) {
	t.Helper()
	poll(t, limit, 20*time.Millisecond, what, cond)
}

// Poll is Until with the period between two polls given: short enough to
// see a state that does not last, long enough not to load what is asked.
// The limit only guards against a hung test; it is never a claim about
// speed.
func Poll(t testing.TB, limit, period time.Duration, what string, cond func() bool) {
	t.Helper()
	poll(t, limit, period, what, func() (bool, string) { return cond(), "" })
}

func poll(t testing.TB, limit, period time.Duration, what string, cond func() (ok bool, state string)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			if state != "" {
				state = ": " + state
			}
			t.Fatalf("timed out after %v waiting for %s%s", limit, what, state)
		}
		time.Sleep(period)
	}
}

// Until is WaitFor for a condition that has nothing to say of the state.
func Until(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	WaitFor(t, limit, what, func() (bool, string) { return cond(), "" })
}

// Seed returns the seed of a randomised test: the one in the environment
// variable env if it is set, otherwise the clock's. It logs the seed and
// how to run the test again with it.
func Seed(t testing.TB, env string) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(env); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", env, s, err)
		}
		seed = v
	}
	t.Logf("seed %d (rerun with %s=%d)", seed, env, seed)
	return seed
}
