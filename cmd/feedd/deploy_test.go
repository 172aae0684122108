package main

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/feedd/feedd/member"
	"gopkg.in/yaml.v3"
)

// These tests check the files in deploy/: the systemd unit, the sysusers.d
// entry, the example configurations, the static build the Dockerfile uses,
// and make install.

const (
	repoRoot    = "../.."
	unitPath    = repoRoot + "/deploy/systemd/feedd.service"
	sysusers    = repoRoot + "/deploy/systemd/feedd.sysusers"
	dockerfile  = repoRoot + "/deploy/Dockerfile"
	exampleA    = repoRoot + "/deploy/feedd-host-a.yaml"
	exampleB    = repoRoot + "/deploy/feedd-host-b.yaml"
	unitBinary  = "/usr/local/bin/feedd"
	unitConfig  = "/etc/feedd/feedd.yaml"
	requireNote = "FEEDD_REQUIRE_SYSTEMD=1 makes this a failure"
)

// needTool returns the path of a tool, or skips the test saying why; with
// the environment variable require set, a missing tool fails it instead.
func needTool(t *testing.T, name, require, install string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv(require) != "" {
		t.Fatalf("%s is not installed and %s is set (%s)", name, require, install)
	}
	t.Skipf("SKIPPED: %s is not installed (%s; %s=1 makes this a failure)", name, install, require)
	return ""
}

// unitDirectives reads a unit file into section.key → values, in order.
func unitDirectives(t *testing.T, path string) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	section := ""
	for l := range strings.Lines(string(data)) {
		l = strings.TrimSpace(l)
		switch {
		case l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, ";"):
		case strings.HasPrefix(l, "["):
			section = strings.Trim(l, "[]")
		default:
			k, v, ok := strings.Cut(l, "=")
			if !ok {
				t.Fatalf("%s: not key=value: %q", path, l)
			}
			out[section+"."+k] = append(out[section+"."+k], v)
		}
	}
	return out
}

// verifyUnit runs systemd-analyze verify on a copy of the unit whose
// binary is replaced by an executable that exists here; any message, even
// one systemd only warns about (an unknown key, a bad value), fails.
func verifyUnit(t *testing.T, unit, binary, replacement string) {
	t.Helper()
	analyze := needTool(t, "systemd-analyze", "FEEDD_REQUIRE_SYSTEMD", "apt-get install systemd")
	data, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(unit)
	if strings.HasSuffix(name, "@.service") {
		name = strings.TrimSuffix(name, ".service") + "ais-north.service" // an instance of the template
	}
	copyPath := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(copyPath, bytes.ReplaceAll(data, []byte(binary), []byte(replacement)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", "--man=no", copyPath).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify %s: %v\n%s", unit, err, out)
	}
}

func TestSystemdUnitVerifies(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	verifyUnit(t, unitPath, unitBinary, self)
	// The unit's sandbox, as systemd rates it (for the log; the rating
	// changes between systemd versions).
	if analyze, err := exec.LookPath("systemd-analyze"); err == nil {
		data, _ := os.ReadFile(unitPath)
		copyPath := filepath.Join(t.TempDir(), "feedd.service")
		os.WriteFile(copyPath, bytes.ReplaceAll(data, []byte(unitBinary), []byte(self)), 0o644)
		out, _ := exec.Command(analyze, "security", "--offline=yes", copyPath).CombinedOutput()
		if i := bytes.Index(out, []byte("Overall exposure level")); i >= 0 {
			t.Logf("%s", bytes.TrimSpace(out[i:]))
		}
	}
}

// The unit runs feedd unprivileged, restarts it, and hardens it without
// cutting it off its serial port. systemd-analyze cannot tell the last
// part: these settings are valid, they just close the device.
func TestSystemdUnitKeepsTheSerialDevice(t *testing.T) {
	u := unitDirectives(t, unitPath)
	want := map[string]string{
		"Service.User":                     "feedd",
		"Service.Group":                    "feedd",
		"Service.SupplementaryGroups":      "dialout",
		"Service.Restart":                  "always",
		"Service.KillSignal":               "SIGTERM",
		"Service.NoNewPrivileges":          "yes",
		"Service.ProtectSystem":            "strict",
		"Service.CapabilityBoundingSet":    "",
		"Service.ExecStart":                unitBinary + " run --config " + unitConfig,
		"Service.RestartPreventExitStatus": "78", // exitConfig
		"Service.Type":                     "notify",
		"Service.NotifyAccess":             "main",
		"Service.WatchdogSec":              "10s",
		"Unit.StartLimitIntervalSec":       "0",
		"Install.WantedBy":                 "multi-user.target",
	}
	for k, v := range want {
		if got := u[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q; want %q", k, got, v)
		}
	}
	for k, bad := range map[string]string{
		"Service.PrivateDevices": "yes", // hides the device
		"Service.ProtectClock":   "yes", // implies DeviceAllow=char-rtc r, closing every other device
		"Service.PrivateUsers":   "yes", // maps the dialout group away
		"Service.DynamicUser":    "yes", // no stable owner for the secret files
	} {
		if slices.Contains(u[k], bad) {
			t.Errorf("%s=%s would cut the member off its serial port or its files", k, bad)
		}
	}
	for _, k := range []string{"Service.DeviceAllow", "Service.DevicePolicy"} {
		if len(u[k]) > 0 {
			t.Errorf("%s=%q: a device list resolved at start refuses an adapter whose driver loads later", k, u[k])
		}
	}
}

func TestSysusersCreatesTheUser(t *testing.T) {
	tool := needTool(t, "systemd-sysusers", "FEEDD_REQUIRE_SYSTEMD", "apt-get install systemd")
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf, err := filepath.Abs(sysusers)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(tool, "--root="+root, conf).CombinedOutput(); err != nil {
		t.Fatalf("systemd-sysusers: %v\n%s", err, out)
	}
	passwd, _ := os.ReadFile(filepath.Join(root, "etc/passwd"))
	group, _ := os.ReadFile(filepath.Join(root, "etc/group"))
	if !regexp.MustCompile(`(?m)^feedd:x:[0-9]+:[0-9]+:[^:]*:/:/usr/sbin/nologin$`).Match(passwd) {
		t.Errorf("no feedd system user without a login shell in\n%s", passwd)
	}
	if !regexp.MustCompile(`(?m)^dialout:x:[0-9]+:(.*,)?feedd(,.*)?$`).Match(group) {
		t.Errorf("feedd is not in the dialout group:\n%s", group)
	}
}

// commentedSetting is a setting shown commented out: "  # key: value".
var commentedSetting = regexp.MustCompile(`^(\s*)# ([a-z_]+:( .*)?)$`)

// uncomment turns every commented-out setting of an example into a set one.
func uncomment(text string) string {
	var b strings.Builder
	for l := range strings.Lines(text) {
		line := strings.TrimSuffix(l, "\n")
		if m := commentedSetting.FindStringSubmatch(line); m != nil {
			line = m[1] + m[2]
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// yamlLeaves flattens a decoded YAML document into the paths of its leaves,
// lists of records as name[].field, with their values.
func yamlLeaves(v any, prefix string, out map[string]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			yamlLeaves(x, prefix+k+".", out)
		}
	case []any:
		if len(v) > 0 {
			if _, records := v[0].(map[string]any); records {
				for i, x := range v {
					sub := map[string]string{}
					yamlLeaves(x, "", sub)
					for k, s := range sub {
						out[fmt.Sprintf("%s[].%s", strings.TrimSuffix(prefix, "."), k)] += fmt.Sprintf("[%d]%s", i, s)
					}
				}
				return
			}
		}
		out[strings.TrimSuffix(prefix, ".")] = fmt.Sprint(v)
	default:
		out[strings.TrimSuffix(prefix, ".")] = fmt.Sprint(v)
	}
}

func TestExampleConfigurations(t *testing.T) {
	leaves := configLeaves(reflect.TypeFor[member.Config](), "")
	defaults := member.Config{}.WithDefaults()
	flat := map[string]map[string]string{}
	for _, path := range []string{exampleA, exampleB} {
		cfg, err := loadConfig(path, nil, noEnv, member.ModeAuto)
		if err != nil {
			t.Fatalf("%s does not validate: %v", path, err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		full := uncomment(string(data))
		// Every commented-out key is a real setting, at its place.
		all := writeConfig(t, full)
		var withAll member.Config
		if err := loadYAML(all, &withAll); err != nil {
			t.Fatalf("%s with its commented-out settings set: %v", path, err)
		}
		var doc any
		if err := yaml.Unmarshal([]byte(full), &doc); err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		yamlLeaves(doc, "", got)
		for _, l := range leaves {
			if _, ok := got[l]; !ok {
				t.Errorf("%s does not show setting %s", path, l)
			}
		}
		// A setting shown commented out with a value shows its default,
		// where the code has one.
		set := map[string]bool{}
		var active any
		yaml.Unmarshal(data, &active)
		activeLeaves := map[string]string{}
		yamlLeaves(active, "", activeLeaves)
		for k := range activeLeaves {
			set[k] = true
		}
		shown := map[string]setting{}
		for _, s := range settingsOf(&withAll) {
			shown[s.path] = s
		}
		for _, s := range settingsOf(&defaults) {
			if set[s.path] || s.field.IsZero() {
				continue
			}
			if v := shown[s.path].field.Interface(); !reflect.DeepEqual(v, s.field.Interface()) {
				t.Errorf("%s shows %s: %v commented out, but its default is %v", path, s.path, v, s.field.Interface())
			}
		}
		if cfg.Pipeline != "ais-north" {
			t.Errorf("%s: pipeline %q", path, cfg.Pipeline)
		}
		flat[path] = got
	}
	// The two members differ only where a member must.
	perMember := []string{"member_id", "serial.device", "pair.weight", "pair.listen", "pair.peers[].id",
		"pair.peers[].address", "admin.listen", "kafka.tls.cert_file", "kafka.tls.key_file", "pair.tls.cert_file", "pair.tls.key_file"}
	for k, a := range flat[exampleA] {
		if b := flat[exampleB][k]; a != b && !slices.Contains(perMember, k) {
			t.Errorf("%s differs between the members (%q, %q): both must use the same", k, a, b)
		}
	}
	for _, k := range perMember {
		if flat[exampleA][k] == flat[exampleB][k] && k != "pair.weight" {
			t.Errorf("%s is %q on both members", k, flat[exampleA][k])
		}
	}
	if a, b := flat[exampleA], flat[exampleB]; a["pair.peers[].id"] != "[0]"+b["member_id"] || b["pair.peers[].id"] != "[0]"+a["member_id"] ||
		a["pair.peers[].address"] != "[0]"+b["pair.listen"] || b["pair.peers[].address"] != "[0]"+a["pair.listen"] {
		t.Errorf("the members do not name each other as peers: %v / %v", a, b)
	}
}

// checkStatic fails unless the binary at path is static and runs.
func checkStatic(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatalf("%s asks for a dynamic loader: not static", path)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Fatalf("%s needs shared libraries %v", path, libs)
	}
	if v, err := exec.Command(path, "version").CombinedOutput(); err != nil {
		t.Fatalf("%s does not run: %v\n%s", path, err, v)
	}
}

// The Dockerfile builds with make static; the binary it makes must be
// static, and the Go image must be the go.mod's version.
func TestStaticBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	make := needTool(t, "make", "FEEDD_REQUIRE_MAKE", "apt-get install make")
	out := filepath.Join(t.TempDir(), "feedd")
	cmd := exec.Command(make, "-C", repoRoot, "static", "STATIC_BIN="+out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make static: %v\n%s", err, b)
	}
	checkStatic(t, out)

	docker, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	mod, err := os.ReadFile(repoRoot + "/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go ([0-9]+\.[0-9]+)`).FindSubmatch(mod)
	if goVersion == nil || !bytes.Contains(docker, []byte("FROM golang:"+string(goVersion[1])+"-")) {
		t.Errorf("deploy/Dockerfile does not build with the Go of go.mod (%s)", goVersion)
	}
	if !regexp.MustCompile(`(?m)^RUN make static `).Match(docker) {
		t.Error("deploy/Dockerfile does not build with make static")
	}
}

// make install puts everything under DESTDIR, with the unit's paths
// rewritten for PREFIX, and the installed unit still verifies; the shell
// completions and man pages are where bash-completion, zsh, fish and man
// look under PREFIX, and each is the real thing.
func TestMakeInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	make := needTool(t, "make", "FEEDD_REQUIRE_MAKE", "apt-get install make")
	dest := t.TempDir()
	cmd := exec.Command(make, "-C", repoRoot, "install", "DESTDIR="+dest, "PREFIX=/opt/feedd", "SYSCONFDIR=/srv/etc")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, b)
	}
	for path, mode := range map[string]os.FileMode{
		"opt/feedd/bin/feedd":                                                          0o755,
		"etc/systemd/system/feedd.service":                                             0o644,
		"etc/systemd/system/feedd@.service":                                            0o644,
		"usr/lib/sysusers.d/feedd.conf":                                                0o644,
		"opt/feedd/share/doc/feedd/README.md":                                          0o644,
		"opt/feedd/share/doc/feedd/docs/operations.md":                                 0o644,
		"opt/feedd/share/doc/feedd/docs/configuration.md":                              0o644,
		"opt/feedd/share/doc/feedd/docs/decisions/0010-frame-identity-by-line-time.md": 0o644,
		"opt/feedd/share/doc/feedd/docs/prometheus/feedd-alerts.yml":                   0o644,
		"opt/feedd/share/doc/feedd/docs/grafana/feedd-dashboard.json":                  0o644,
		"opt/feedd/share/doc/feedd/deploy/feedd-host-a.yaml":                           0o644,
		"opt/feedd/share/doc/feedd/deploy/feedd-host-b.yaml":                           0o644,
		"opt/feedd/share/doc/feedd/examples/consumer/main.go":                          0o644,
		"opt/feedd/share/bash-completion/completions/feedd":                            0o644,
		"opt/feedd/share/zsh/site-functions/_feedd":                                    0o644,
		"opt/feedd/share/fish/vendor_completions.d/feedd.fish":                         0o644,
		"opt/feedd/share/man/man1/feedd.1":                                             0o644,
		"opt/feedd/share/man/man1/feedd-run.1":                                         0o644,
		"opt/feedd/share/man/man1/feedd-probe.1":                                       0o644,
	} {
		fi, err := os.Stat(filepath.Join(dest, path))
		if err != nil {
			t.Errorf("not installed: %v", err)
			continue
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode().Perm(), mode)
		}
	}
	for path, want := range map[string]string{
		"opt/feedd/share/bash-completion/completions/feedd":    "__start_feedd",
		"opt/feedd/share/zsh/site-functions/_feedd":            "#compdef feedd",
		"opt/feedd/share/fish/vendor_completions.d/feedd.fish": "complete -c feedd",
		"opt/feedd/share/man/man1/feedd.1":                     ".TH \"FEEDD\" \"1\"",
		"opt/feedd/share/man/man1/feedd-run.1":                 "Line speed in bits per second",
	} {
		b, err := os.ReadFile(filepath.Join(dest, path))
		if err == nil && (len(b) < 500 || !bytes.Contains(b, []byte(want))) {
			t.Errorf("%s: %d bytes without %q", path, len(b), want)
		}
	}
	if fi, err := os.Stat(filepath.Join(dest, "srv/etc/feedd")); err != nil || !fi.IsDir() {
		t.Errorf("the configuration directory is missing: %v", err)
	}
	checkInstalledLinks(t, filepath.Join(dest, "opt/feedd/share/doc/feedd"))
	unit := filepath.Join(dest, "etc/systemd/system/feedd.service")
	u := unitDirectives(t, unit)
	for _, d := range u["Unit.Documentation"] {
		if f, ok := strings.CutPrefix(d, "file:"); ok {
			if _, err := os.Stat(filepath.Join(dest, f)); err != nil {
				t.Errorf("the unit's Documentation= names a file make install does not install: %v", err)
			}
		}
	}
	if got := u["Service.ExecStart"]; len(got) != 1 || got[0] != "/opt/feedd/bin/feedd run --config /srv/etc/feedd/feedd.yaml" {
		t.Errorf("installed ExecStart %q: the paths are not rewritten for PREFIX and SYSCONFDIR", got)
	}
	if v, err := exec.Command(filepath.Join(dest, "opt/feedd/bin/feedd"), "version").CombinedOutput(); err != nil {
		t.Fatalf("the installed binary does not run: %v\n%s", err, v)
	}
	verifyUnit(t, unit, "/opt/feedd/bin/feedd", filepath.Join(dest, "opt/feedd/bin/feedd"))

	// The template runs one member per feed: feedd@ais-north reads
	// ais-north.yaml and ais-north.env, and is otherwise the same unit.
	template := filepath.Join(dest, "etc/systemd/system/feedd@.service")
	tu := unitDirectives(t, template)
	for k, want := range map[string]string{
		"Service.ExecStart":       "/opt/feedd/bin/feedd run --config /srv/etc/feedd/%i.yaml",
		"Service.EnvironmentFile": "-/srv/etc/feedd/%i.env",
	} {
		if got := tu[k]; len(got) != 1 || got[0] != want {
			t.Errorf("template %s = %q; want %q", k, got, want)
		}
	}
	for k, v := range u {
		if k == "Service.ExecStart" || k == "Service.EnvironmentFile" || k == "Unit.Description" {
			continue
		}
		if !slices.Equal(tu[k], v) {
			t.Errorf("template %s = %q; the unit has %q", k, tu[k], v)
		}
	}
	verifyUnit(t, template, "/opt/feedd/bin/feedd", filepath.Join(dest, "opt/feedd/bin/feedd"))
}

// TestMakeDeb: make deb builds a Debian package that dpkg-deb reads, named
// for its version and architecture, holding what make install installs
// under /usr (a static binary among it) and the scripts that create the
// feedd user and start nothing.
func TestMakeDeb(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	make := needTool(t, "make", "FEEDD_REQUIRE_MAKE", "apt-get install make")
	dpkgDeb := needTool(t, "dpkg-deb", "FEEDD_REQUIRE_DPKG", "apt-get install dpkg")
	dir := t.TempDir()
	cmd := exec.Command(make, "-C", repoRoot, "deb", "DEB_DIR="+dir, "DEB_VERSION=1.2.3~test", "DEB_ARCH=amd64")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make deb: %v\n%s", err, b)
	}
	deb := filepath.Join(dir, "feedd_1.2.3~test_amd64.deb")
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 1 || left[0] != deb {
		t.Fatalf("make deb left %v, want %s alone", left, deb)
	}
	for field, want := range map[string]string{"Package": "feedd", "Version": "1.2.3~test", "Architecture": "amd64"} {
		got, err := exec.Command(dpkgDeb, "--field", deb, field).Output()
		if err != nil || strings.TrimSpace(string(got)) != want {
			t.Errorf("%s: %q (%v), want %q", field, got, err, want)
		}
	}
	contents, err := exec.Command(dpkgDeb, "--contents", deb).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{
		"./usr/bin/feedd", "./usr/lib/systemd/system/feedd.service", "./usr/lib/systemd/system/feedd@.service",
		"./usr/lib/sysusers.d/feedd.conf", "./usr/share/man/man1/feedd.1", "./usr/share/man/man1/feedd-run.1",
		"./usr/share/bash-completion/completions/feedd", "./usr/share/zsh/site-functions/_feedd",
		"./usr/share/fish/vendor_completions.d/feedd.fish", "./usr/share/doc/feedd/docs/operations.md",
		"./usr/share/doc/feedd/deploy/feedd-host-a.yaml", "./etc/feedd/",
	} {
		if !regexp.MustCompile(`(?m) root/root .* ` + regexp.QuoteMeta(path) + `$`).Match(contents) {
			t.Errorf("the package lacks %s (owned by root)", path)
		}
	}
	root := t.TempDir()
	if b, err := exec.Command(dpkgDeb, "--extract", deb, root).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb --extract: %v\n%s", err, b)
	}
	checkStatic(t, filepath.Join(root, "usr/bin/feedd"))
	u := unitDirectives(t, filepath.Join(root, "usr/lib/systemd/system/feedd.service"))
	if got := u["Service.ExecStart"]; len(got) != 1 || got[0] != "/usr/bin/feedd run --config /etc/feedd/feedd.yaml" {
		t.Errorf("the packaged unit's ExecStart is %q", got)
	}
	control := t.TempDir()
	if b, err := exec.Command(dpkgDeb, "--control", deb, control).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb --control: %v\n%s", err, b)
	}
	postinst, err := os.ReadFile(filepath.Join(control, "postinst"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(postinst, []byte("systemd-sysusers feedd.conf")) || bytes.Contains(postinst, []byte("systemctl start")) ||
		bytes.Contains(postinst, []byte("systemctl enable")) {
		t.Errorf("postinst must create the user and start nothing:\n%s", postinst)
	}
}

// markdownLink matches the target of a Markdown link, up to a fragment.
var markdownLink = regexp.MustCompile(`\]\(([^)#\s]+)(#[^)]*)?\)`)

// checkInstalledLinks fails for every relative link in an installed
// Markdown document that does not lead to an installed file: the installed
// documentation is read where it lies, without the repository beside it.
// Only links into the developers' source (cmd/, scripts/), which an
// operator does not need, may lead outside it.
func checkInstalledLinks(t *testing.T, root string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".md") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range markdownLink.FindAllSubmatch(b, -1) {
			target := string(m[1])
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			full := filepath.Join(filepath.Dir(path), target)
			rel, err := filepath.Rel(root, full)
			if err != nil || strings.HasPrefix(rel, "cmd/") || strings.HasPrefix(rel, "scripts/") {
				continue
			}
			if _, err := os.Stat(full); err != nil {
				t.Errorf("installed %s links to %s, which is not installed", strings.TrimPrefix(path, root+"/"), target)
			}
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 20 {
		t.Errorf("only %d links checked in the installed documentation; is it installed?", n)
	}
}
