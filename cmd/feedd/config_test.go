package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/feedd/feedd/member"
	"github.com/spf13/pflag"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "feedd.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const validYAML = `
pipeline: ais-north
member_id: host-a
serial:
  device: /dev/ttyUSB0
  baud: 38400
  read_timeout: 50ms
framing:
  mode: nmea
sequence:
  nmea_field: 1
` + kafkaAndPairYAML + `  secret_env: FEEDD_TEST_PAIR_SECRET
  activation_interval: 600ms
admin:
  listen: 127.0.0.1:7070
`

// kafkaAndPairYAML is the kafka and pair sections both configurations
// share; pair is the last section, so validYAML goes on with its keys.
const kafkaAndPairYAML = `kafka:
  brokers: [127.0.0.1:9092]
  topic: ais-north
pair:
  listen: 127.0.0.1:7400
  peers:
    - id: host-b
      address: 127.0.0.1:7401
`

// requiredYAML is a member's configuration with every setting it needs
// and no other, but for the pair's secret.
const requiredYAML = `pipeline: ais-north
member_id: host-a
serial:
  device: /dev/ttyUSB0
framing:
  mode: nmea
` + kafkaAndPairYAML

func noEnv(string) (string, bool) { return "", false }

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoadConfigPrecedence(t *testing.T) {
	path := writeConfig(t, validYAML)

	cfg, err := loadConfig(path, nil, noEnv, member.ModeAuto)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Serial.Baud != 38400 || cfg.Serial.ReadTimeout != 50*time.Millisecond || cfg.Sequence.NMEAField != 1 {
		t.Fatalf("file not applied: %+v", cfg)
	}
	if cfg.Pair.Core.ActivationInterval != 600*time.Millisecond || cfg.Pair.Link.Peers[0].ID != "host-b" || cfg.Pair.Core.MemberID != "host-a" {
		t.Fatalf("pair section not applied: %+v", cfg.Pair)
	}
	if cfg.Serial.DataBits != 8 || cfg.Serial.Parity != "none" || cfg.Log.Format != "text" || cfg.Pair.Core.HeartbeatInterval != 100*time.Millisecond || cfg.Pair.ActivationTimeout != member.DefaultActivationTimeout {
		t.Fatalf("defaults not applied: %+v", cfg)
	}

	env := envOf(map[string]string{"FEEDD_SERIAL_BAUD": "9600", "FEEDD_LOG_FORMAT": "json"})
	cfg, err = loadConfig(path, nil, env, member.ModeAuto)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Serial.Baud != 9600 || cfg.Log.Format != "json" {
		t.Fatalf("environment did not override the file: baud %d, log %s", cfg.Serial.Baud, cfg.Log.Format)
	}

	cfg, err = loadConfig(path, []override{{"serial.baud", "4800"}}, env, member.ModeAuto)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Serial.Baud != 4800 {
		t.Fatalf("flag did not override the environment: baud %d", cfg.Serial.Baud)
	}

	// FEEDD_CONFIG names the file when --config is absent.
	cfg, err = loadConfig("", nil, envOf(map[string]string{"FEEDD_CONFIG": path}), member.ModeAuto)
	if err != nil || cfg.Pipeline != "ais-north" {
		t.Fatalf("FEEDD_CONFIG not used: %v %+v", err, cfg)
	}
}

func TestLoadConfigErrorsNameTheField(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		flags []override
		env   map[string]string
		want  string
	}{
		{"unknown key", validYAML + "bogus: 1\n", nil, nil, "bogus"},
		{"misspelt nested key", strings.Replace(validYAML, "baud:", "baudrate:", 1), nil, nil, "baudrate"},
		{"missing pipeline", strings.Replace(validYAML, "pipeline: ais-north", "", 1), nil, nil, "pipeline:"},
		{"pipeline with a slash", validYAML, []override{{"pipeline", "a/b"}}, nil, "pipeline:"},
		{"missing device", validYAML, []override{{"serial.device", ""}}, nil, "serial.device:"},
		{"bad baud text", validYAML, []override{{"serial.baud", "fast"}}, nil, "serial.baud:"},
		{"bad parity", validYAML, []override{{"serial.parity", "maybe"}}, nil, "serial.parity:"},
		{"bad duration", validYAML, nil, map[string]string{"FEEDD_SERIAL_READ_TIMEOUT": "soon"}, "serial.read_timeout:"},
		{"bad framing mode", validYAML, []override{{"framing.mode", "morse"}}, nil, "framing.mode:"},
		{"bad sequence regex", validYAML, []override{{"sequence.nmea_field", "0"}, {"sequence.regex", "("}}, nil, "sequence.regex:"},
		{"bad log level", validYAML, []override{{"log.level", "loud"}}, nil, "log.level:"},
		{"bad log format", validYAML, []override{{"log.format", "xml"}}, nil, "log.format:"},
		{"no brokers", validYAML, []override{{"kafka.brokers", ""}}, nil, "kafka.brokers:"},
		{"bad commit interval", validYAML, []override{{"kafka.commit_interval", "-1s"}}, nil, "kafka.commit_interval:"},
		{"bad backlog bound", validYAML, []override{{"backlog.max_frames", "-5"}}, nil, "backlog.max_frames:"},
		{"pair intervals out of order", validYAML, []override{{"pair.activation_interval", "200ms"}}, nil, "pair.activation_interval:"},
		{"bad pair listen", validYAML, []override{{"pair.listen", "nowhere"}}, nil, "pair.listen:"},
		{"bad pair auth", validYAML, []override{{"pair.auth", "trust-me"}}, nil, "pair.auth:"},
		{"activation timeout too short", validYAML, []override{{"pair.activation_timeout", "100ms"}}, nil, "pair.activation_timeout:"},
		{"two active members", validYAML, []override{{"pair.active_goal", "2"}}, nil, "pair.active_goal:"},
		{"a pair on fixed frames without a sync", validYAML, []override{{"framing.mode", "fixed:16"}}, nil, "framing.mode: fixed:16 has no byte that marks where a frame starts"},
		{"a pair on length-prefixed frames", validYAML, []override{{"framing.mode", "length-prefix"}, {"framing.length_bytes", "2"}}, nil, "framing.mode: length-prefix has no byte"},
		{"bad admin listen", validYAML, []override{{"admin.listen", "7070"}}, nil, "admin.listen:"},
		{"bad member id", validYAML, []override{{"member_id", "host a"}}, nil, "member_id:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadConfig(writeConfig(t, tt.yaml), tt.flags, envOf(tt.env), member.ModeAuto)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("loadConfig = %v; want an error naming %q", err, tt.want)
			}
		})
	}
}

func TestEveryLeafHasAFlagAndAnEnvironmentVariable(t *testing.T) {
	var cfg member.Config
	settings := settingsOf(&cfg)
	if len(settings) < 15 {
		t.Fatalf("only %d settings found; the walk over the config tree is broken", len(settings))
	}
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	var pending []override
	configFlags(fs, &pending)
	for _, s := range settings {
		if fs.Lookup(s.path) == nil {
			t.Errorf("no flag --%s", s.path)
		}
		if !strings.HasPrefix(s.envName(), "FEEDD_") || strings.ContainsAny(s.envName(), ".-") {
			t.Errorf("bad environment name %q for %s", s.envName(), s.path)
		}
	}
}

// TestFramingWithoutBoundaryIsFineAlone: a member that runs without the pair
// protocol may use a framing that cannot resynchronise; a pair may use it
// with a sync pattern.
func TestFramingWithoutBoundaryIsFineAlone(t *testing.T) {
	if _, err := loadConfig(writeConfig(t, validYAML), []override{{"framing.mode", "fixed:16"}}, envOf(nil), member.ModeActive); err != nil {
		t.Fatalf("a lone member on fixed frames: %v", err)
	}
	if _, err := loadConfig(writeConfig(t, validYAML), []override{{"framing.mode", "fixed:16"}, {"framing.sync", "AA55"}}, envOf(nil), member.ModeAuto); err != nil {
		t.Fatalf("a pair on fixed frames with a sync: %v", err)
	}
}

// TestInvalidSectionsAllAtOnce: a configuration wrong in several sections
// names each of them.
func TestInvalidSectionsAllAtOnce(t *testing.T) {
	_, err := loadConfig(writeConfig(t, validYAML), []override{{"serial.parity", "maybe"}, {"kafka.commit_interval", "-1s"}, {"log.level", "loud"}}, envOf(nil), member.ModeAuto)
	for _, want := range []string{"serial.parity:", "kafka.commit_interval:", "log.level:"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("loadConfig = %v; want an error naming %s", err, want)
		}
	}
}

// TestUnknownKeysAllAtOnce: every unknown key of a file is reported at
// once, by its YAML path and the line it is on, with the setting it was
// likely meant to be.
func TestUnknownKeysAllAtOnce(t *testing.T) {
	text := strings.Replace(validYAML, "  baud: 38400", "  buad: 38400", 1)
	text = strings.Replace(text, "  topic: ais-north", "  topic: ais-north\n  brokerz: [127.0.0.1:9093]", 1)
	text = strings.Replace(text, "      address: 127.0.0.1:7401", "      adress: 127.0.0.1:7401", 1)
	text += "pipline: x\nwholly_unknown: 1\nbaud: 9600\n"
	_, err := loadConfig(writeConfig(t, text), nil, envOf(nil), member.ModeAuto)
	if err == nil {
		t.Fatal("loadConfig accepted unknown keys")
	}
	lines := strings.Split(text, "\n")
	lineOf := func(prefix string) int {
		for i, l := range lines {
			if strings.HasPrefix(l, prefix) {
				return i + 1
			}
		}
		t.Fatalf("no line %q", prefix)
		return 0
	}
	for _, want := range []string{
		fmt.Sprintf("line %d: serial.buad: unknown setting (did you mean serial.baud?)", lineOf("  buad:")),
		fmt.Sprintf("line %d: kafka.brokerz: unknown setting (did you mean kafka.brokers?)", lineOf("  brokerz:")),
		fmt.Sprintf("line %d: pair.peers[0].adress: unknown setting (did you mean pair.peers[0].address?)", lineOf("      adress:")),
		fmt.Sprintf("line %d: pipline: unknown setting (did you mean pipeline?)", lineOf("pipline:")),
		fmt.Sprintf("line %d: wholly_unknown: unknown setting\n", lineOf("wholly_unknown:")),
		fmt.Sprintf("line %d: baud: unknown setting (did you mean serial.baud?)", lineOf("baud:")),
	} {
		if !strings.Contains(err.Error()+"\n", want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "ingest.") || strings.Contains(err.Error(), "not found in type") {
		t.Errorf("error names Go types: %q", err)
	}
}

func TestCheckConfig(t *testing.T) {
	t.Setenv("FEEDD_TEST_PAIR_SECRET", "a-pair-secret-of-32-bytes-length")
	path := writeConfig(t, validYAML)
	var stdout, stderr bytes.Buffer
	code := dispatch(t.Context(), []string{"run", "--config", path, "--check-config"}, &stdout, &stderr)
	if code != 0 || !strings.Contains(stdout.String(), "configuration OK") || !strings.Contains(stdout.String(), "transactional_id=feedd-ais-north ") {
		t.Fatalf("check-config exit %d, stdout %q, stderr %q; want OK naming the transactional id", code, stdout.String(), stderr.String())
	}

	stdout.Reset()
	stderr.Reset()
	code = dispatch(t.Context(), []string{"run", "--config", path, "--check-config", "--serial.data_bits", "9"}, &stdout, &stderr)
	if code != exitConfig || !strings.Contains(stderr.String(), "serial.data_bits") {
		t.Fatalf("invalid config: exit %d, stderr %q; want exit %d naming serial.data_bits", code, stderr.String(), exitConfig)
	}

	// A fixed role runs no pair protocol, but the id still goes into every
	// record's header: it is held to the same rules.
	for _, role := range []string{"auto", "active", "inactive"} {
		stdout.Reset()
		stderr.Reset()
		code = dispatch(t.Context(), []string{"run", "--config", path, "--check-config", "--role", role, "--member_id", "host a"}, &stdout, &stderr)
		if code != exitConfig || strings.Count(stderr.String(), `member_id: "host a" must not contain spaces`) != 1 {
			t.Errorf("--role %s with member_id \"host a\": exit %d, stderr %q; want exit %d naming member_id once", role, code, stderr.String(), exitConfig)
		}
	}
}

// TestCheckConfigReadsWhatRunReads: --check-config refuses, as a start does,
// what only reading files or the environment shows, every problem at once,
// with exit 78 (EX_CONFIG), which the systemd unit does not restart on.
func TestCheckConfigReadsWhatRunReads(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short.secret")
	empty := filepath.Join(dir, "empty")
	for name, data := range map[string]string{short: "too-short", empty: ""} {
		if err := os.WriteFile(name, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	missing := filepath.Join(dir, "missing")
	for _, tc := range []struct {
		name string
		yaml string // validYAML if empty
		args []string
		want []string // in stderr
	}{
		{"missing pair secret", "", []string{"--pair.secret_env", "", "--pair.secret_file", missing}, []string{"pair.secret_file:", "no such file"}},
		{"short pair secret", "", []string{"--pair.secret_env", "", "--pair.secret_file", short}, []string{"pair.secret_file: the secret is 9 bytes"}},
		{"empty pair secret", "", []string{"--pair.secret_env", "", "--pair.secret_file", empty}, []string{"pair.secret_file: the secret is 0 bytes"}},
		{"unset pair secret variable", "", []string{"--pair.secret_env", "FEEDD_TEST_NO_SUCH_SECRET"}, []string{"pair.secret_env: environment variable FEEDD_TEST_NO_SUCH_SECRET is not set"}},
		{"missing mTLS files", "", []string{"--pair.secret_env", "", "--pair.auth", "mtls", "--pair.tls.ca_file", missing, "--pair.tls.cert_file", missing, "--pair.tls.key_file", missing}, []string{"pair.tls.cert_file"}},
		{"missing Kafka CA", "", []string{"--kafka.tls.enabled", "--kafka.tls.ca_file", missing}, []string{"kafka.tls.ca_file:"}},
		{"missing SASL password", "", []string{"--kafka.sasl.mechanism", "PLAIN", "--kafka.sasl.username", "u", "--kafka.sasl.password_file", missing}, []string{"kafka.sasl.password_file:"}},
		{"a peer with this member's id", strings.Replace(validYAML, "id: host-b", "id: host-a", 1), nil, []string{`pair.peers[0].id: "host-a" is this member's own`}},
		{"every problem at once", "", []string{"--pair.secret_env", "", "--pair.secret_file", short, "--kafka.tls.enabled", "--kafka.tls.ca_file", missing}, []string{"pair.secret_file:", "kafka.tls.ca_file:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("FEEDD_TEST_PAIR_SECRET", "a-pair-secret-of-32-bytes-length")
			var stdout, stderr bytes.Buffer
			yaml := tc.yaml
			if yaml == "" {
				yaml = validYAML
			}
			args := append([]string{"run", "--config", writeConfig(t, yaml), "--check-config"}, tc.args...)
			code := dispatch(t.Context(), args, &stdout, &stderr)
			if code != exitConfig {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %d", code, stdout.String(), stderr.String(), exitConfig)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr %q lacks %q", stderr.String(), w)
				}
			}
			if strings.Contains(stderr.String(), "a-pair-secret") {
				t.Errorf("stderr shows the secret: %q", stderr.String())
			}
		})
	}
}

// TestCheckConfigWarns: a secret file every user can read and a baud rate
// no UART offers as standard pass, with a warning each; a secret its group
// can read (the runbook's 0640) or only its owner passes without one.
func TestCheckConfigWarns(t *testing.T) {
	unsetFeeddEnv(t)
	secret := filepath.Join(t.TempDir(), "pair.secret")
	if err := os.WriteFile(secret, []byte("a-pair-secret-of-32-bytes-length"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := dispatch(t.Context(), []string{"run", "--config", writeConfig(t, validYAML), "--check-config",
		"--pair.secret_env", "", "--pair.secret_file", secret, "--serial.baud", "12345"}, &stdout, &stderr)
	if code != 0 || !strings.Contains(stdout.String(), "configuration OK") {
		t.Fatalf("exit %d, stdout %q, stderr %q; want OK", code, stdout.String(), stderr.String())
	}
	for _, w := range []string{"warning: pair.secret_file: " + secret + " is open to every user of this host (mode 0644)", "warning: serial.baud: 12345 is not a standard rate"} {
		if !strings.Contains(stderr.String(), w) {
			t.Errorf("stderr %q lacks %q", stderr.String(), w)
		}
	}
	for _, tc := range []struct {
		mode os.FileMode
		want string // the warning, or "" for none
	}{
		{0o600, ""},
		{0o640, ""},
		{0o660, "warning: pair.secret_file: " + secret + " can be changed by its group (mode 0660)"},
		{0o604, "is open to every user of this host (mode 0604)"},
	} {
		stderr.Reset()
		if err := os.Chmod(secret, tc.mode); err != nil {
			t.Fatal(err)
		}
		code := dispatch(t.Context(), []string{"run", "--config", writeConfig(t, validYAML), "--check-config",
			"--pair.secret_env", "", "--pair.secret_file", secret, "--serial.device", os.DevNull}, &stdout, &stderr)
		if code != 0 {
			t.Fatalf("secret mode %04o: exit %d, stderr %q; want 0", tc.mode, code, stderr.String())
		}
		if tc.want == "" && stderr.Len() != 0 || tc.want != "" && !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("secret mode %04o: stderr %q; want %q", tc.mode, stderr.String(), tc.want)
		}
	}
}

// TestCheckConfigWarnsOfInsecureKafka: brokers whose certificates are not
// checked, and a PLAIN password sent without TLS, pass with a warning each,
// and the summary line says the certificates are not checked.
func TestCheckConfigWarnsOfInsecureKafka(t *testing.T) {
	unsetFeeddEnv(t)
	t.Setenv("FEEDD_TEST_PAIR_SECRET", "a-pair-secret-of-32-bytes-length")
	password := filepath.Join(t.TempDir(), "kafka.password")
	if err := os.WriteFile(password, []byte("a-kafka-password"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		flags       []string
		warning     string // "" for none
		summaryHas  string
		summaryLack string
	}{
		{"tls verified", []string{"--kafka.tls.enabled"}, "", "tls=true ", "insecure"},
		{"tls unverified", []string{"--kafka.tls.enabled", "--kafka.tls.insecure_skip_verify"},
			"warning: kafka.tls.insecure_skip_verify: the brokers' certificates are not checked", "tls=true,insecure-skip-verify", ""},
		{"plain without tls", []string{"--kafka.sasl.mechanism", "PLAIN", "--kafka.sasl.username", "feedd", "--kafka.sasl.password_file", password},
			"warning: kafka.sasl.mechanism: PLAIN without kafka.tls.enabled sends the password to the brokers in the clear", "sasl=PLAIN", ""},
		{"plain over tls", []string{"--kafka.tls.enabled", "--kafka.sasl.mechanism", "PLAIN", "--kafka.sasl.username", "feedd", "--kafka.sasl.password_file", password},
			"", "sasl=PLAIN", ""},
		{"scram without tls", []string{"--kafka.sasl.mechanism", "SCRAM-SHA-512", "--kafka.sasl.username", "feedd", "--kafka.sasl.password_file", password},
			"", "sasl=SCRAM-SHA-512", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"run", "--config", writeConfig(t, validYAML), "--check-config", "--serial.device", os.DevNull}, tc.flags...)
			if code := dispatch(t.Context(), args, &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d, stderr %q; want 0", code, stderr.String())
			}
			if tc.warning == "" && stderr.Len() != 0 || tc.warning != "" && !strings.Contains(stderr.String(), tc.warning) {
				t.Errorf("stderr %q; want %q", stderr.String(), tc.warning)
			}
			if !strings.Contains(stdout.String(), tc.summaryHas) || tc.summaryLack != "" && strings.Contains(stdout.String(), tc.summaryLack) {
				t.Errorf("stdout %q; want %q and not %q", stdout.String(), tc.summaryHas, tc.summaryLack)
			}
			if strings.Contains(stdout.String()+stderr.String(), "a-kafka-password") {
				t.Errorf("the output shows the password: %q %q", stdout.String(), stderr.String())
			}
		})
	}
}

func TestUnknownCommand(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := dispatch(t.Context(), []string{"frobnicate"}, &stdout, &stderr); code != 2 {
		t.Fatalf("exit %d; want 2", code)
	}
	if !strings.Contains(stderr.String(), "unknown command") {
		t.Fatalf("stderr %q", stderr.String())
	}
}

// TestFailFastSaysWhyOnce: with serial.fail_fast a missing device stops
// the member, and the error that says why is printed once.
func TestFailFastSaysWhyOnce(t *testing.T) {
	device := filepath.Join(t.TempDir(), "no-such-tty")
	var stdout, stderr bytes.Buffer
	code := dispatch(t.Context(), []string{"run", "--config", writeConfig(t, requiredYAML), "--role", "active",
		"--serial.device", device, "--serial.fail_fast", "--kafka.brokers", "127.0.0.1:1", "--admin.listen", "127.0.0.1:0",
		"--log.level", "error"}, &stdout, &stderr)
	if code != 1 {
		t.Fatalf("exit %d, stderr %q; want 1", code, stderr.String())
	}
	if n := strings.Count(stderr.String(), "serial device "+device+": device does not exist"); n != 2 {
		// Once in the member's log line, once as the command's error.
		t.Errorf("the reason appears %d times; want 2 (the log's error line and the exit message):\n%s", n, stderr.String())
	}
	if !strings.Contains(stderr.String(), "feedd run: ingest: serial device "+device) {
		t.Errorf("stderr lacks the command's error:\n%s", stderr.String())
	}
}

// TestCheckConfigWarnsOfAMissingDevice: a device that is not there now
// passes the check, with a warning; a member would wait for it.
func TestCheckConfigWarnsOfAMissingDevice(t *testing.T) {
	t.Setenv("FEEDD_TEST_PAIR_SECRET", "a-pair-secret-of-32-bytes-length")
	device := filepath.Join(t.TempDir(), "no-such-tty")
	var stdout, stderr bytes.Buffer
	code := dispatch(t.Context(), []string{"run", "--config", writeConfig(t, validYAML), "--check-config",
		"--serial.device", device}, &stdout, &stderr)
	if code != 0 || !strings.Contains(stdout.String(), "configuration OK") {
		t.Fatalf("exit %d, stdout %q, stderr %q; want OK", code, stdout.String(), stderr.String())
	}
	want := "warning: serial.device: " + device + " cannot be found now; a member waits for it, retrying"
	if !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr %q lacks %q", stderr.String(), want)
	}
	stderr.Reset()
	dispatch(t.Context(), []string{"run", "--config", writeConfig(t, validYAML), "--check-config",
		"--serial.device", device, "--serial.fail_fast"}, &stdout, &stderr)
	if want := "cannot be found now; with serial.fail_fast a start fails on it"; !strings.Contains(stderr.String(), want) {
		t.Errorf("with serial.fail_fast: stderr %q lacks %q", stderr.String(), want)
	}
}

// TestCheckConfigWarnsOfAMisspeltVariable: a FEEDD_* variable that looks
// like a setting of a section but names none is ignored by a start, so the
// check says so and suggests the setting; the variables the configuration
// names itself, and FEEDD_* variables outside the sections, are not
// warned of.
func TestCheckConfigWarnsOfAMisspeltVariable(t *testing.T) {
	unsetFeeddEnv(t)
	t.Setenv("FEEDD_KAFKA_HOME", "/opt/kafka")
	t.Setenv("FEEDD_TEST_PAIR_SECRET", "a-pair-secret-of-32-bytes-length")
	t.Setenv("FEEDD_SERIAL_BUAD", "9600")
	t.Setenv("FEEDD_KAFKA_TOPIC", "ais-north")
	t.Setenv("FEEDD_CPUPROFILE", "/tmp/cpu.out")
	t.Setenv("FEEDD_KAFKA_SASL_PASSWORD", "not-a-setting")
	var stdout, stderr bytes.Buffer
	code := dispatch(t.Context(), []string{"run", "--config", writeConfig(t, validYAML), "--check-config",
		"--serial.device", os.DevNull}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q; want 0", code, stderr.String())
	}
	want := "warning: FEEDD_KAFKA_SASL_PASSWORD is set but names no setting, so it is ignored (FEEDD_KAFKA_SASL_PASSWORD_ENV names where the value is read from)\n" +
		"warning: FEEDD_SERIAL_BUAD is set but names no setting, so it is ignored (did you mean FEEDD_SERIAL_BAUD?)\n"
	if stderr.String() != want {
		t.Errorf("stderr %q; want only %q", stderr.String(), want)
	}
}

// unsetFeeddEnv unsets, for the test, every FEEDD_* variable the test's
// own environment has (the tools that run the tests set some), so that a
// check of the environment sees only what the test sets.
func unsetFeeddEnv(t *testing.T) {
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "FEEDD_") {
			t.Setenv(name, "") // restores the value after the test
			os.Unsetenv(name)
		}
	}
}
