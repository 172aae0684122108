package kafkatest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

// EnvHome overrides where the installation is (and where
// scripts/kafka/fetch puts it).
const EnvHome = "FEEDD_KAFKA_HOME"

// EnvRequire, when set, turns a missing installation into a test failure
// instead of a skip (make test sets it).
const EnvRequire = "FEEDD_REQUIRE_KAFKA"

// pomPath is where the pin lives, relative to the module root.
const pomPath = "scripts/kafka/pom.xml"

// Install is a cached Kafka installation: the broker's jars and the java
// that runs them.
type Install struct {
	// Version is the Kafka release.
	Version string
	// Home holds libs/ (the jars) and the pom.xml they were fetched with.
	Home string
	// Java is the java executable.
	Java string
}

// Classpath is the JVM class path of the broker and its tools.
func (in *Install) Classpath() string { return filepath.Join(in.Home, "libs", "*") }

var versionRE = regexp.MustCompile(`<kafka\.version>([^<]+)</kafka\.version>`)

// ModuleRoot walks up from the working directory to the directory holding
// go.mod: tests run in their package's directory, the Makefile at the root.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("kafkatest: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Find locates the installation that scripts/kafka/fetch made for the
// version pinned in scripts/kafka/pom.xml. The error says what is missing
// and how to get it.
func Find() (*Install, error) {
	root, err := ModuleRoot()
	if err != nil {
		return nil, err
	}
	pom, err := os.ReadFile(filepath.Join(root, pomPath))
	if err != nil {
		return nil, fmt.Errorf("kafkatest: the pin: %w", err)
	}
	m := versionRE.FindSubmatch(pom)
	if m == nil {
		return nil, fmt.Errorf("kafkatest: %s has no <kafka.version>", pomPath)
	}
	in := &Install{Version: string(m[1])}
	if in.Home = os.Getenv(EnvHome); in.Home == "" {
		cache := os.Getenv("XDG_CACHE_HOME")
		if cache == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return nil, fmt.Errorf("kafkatest: %w", err)
			}
			cache = filepath.Join(home, ".cache")
		}
		in.Home = filepath.Join(cache, "feedd", "kafka-"+in.Version)
	}
	// The fetch script copies the pom it used last, once every jar is in
	// place: a missing or different copy means an interrupted or older
	// fetch.
	fetched, err := os.ReadFile(filepath.Join(in.Home, "pom.xml"))
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("Apache Kafka %s is not installed in %s (make kafka)", in.Version, in.Home)
	case err != nil:
		return nil, fmt.Errorf("kafkatest: %w", err)
	case !bytes.Equal(fetched, pom):
		return nil, fmt.Errorf("the Kafka installation in %s was fetched with another %s (make kafka)", in.Home, pomPath)
	}
	if in.Java, err = findJava(); err != nil {
		return nil, err
	}
	return in, nil
}

func findJava() (string, error) {
	if jh := os.Getenv("JAVA_HOME"); jh != "" {
		if p := filepath.Join(jh, "bin", "java"); isExecutable(p) {
			return p, nil
		}
	}
	p, err := exec.LookPath("java")
	if err != nil {
		return "", errors.New("java is not installed: Kafka needs a Java 17 or newer runtime (make deps)")
	}
	return p, nil
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// Need returns the installation, or skips the test saying why, or fails
// it when EnvRequire is set. Tests that need real Kafka also skip in
// -short mode.
func Need(t testing.TB) *Install {
	t.Helper()
	if testing.Short() {
		t.Skip("SKIPPED: real Kafka: not in -short mode")
	}
	in, err := Find()
	if err != nil {
		if os.Getenv(EnvRequire) != "" {
			t.Fatalf("%v, and %s is set", err, EnvRequire)
		}
		t.Skipf("SKIPPED: %v", err)
	}
	return in
}
