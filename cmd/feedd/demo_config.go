package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/feedd/feedd/hw/serialsim"
)

// demoDir returns the working directory and a function that removes it
// when the demo made it and succeeded.
func demoDir(dir string) (string, func(success bool), error) {
	if dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return "", nil, err
		}
		if err := os.MkdirAll(abs, 0o755); err != nil {
			return "", nil, err
		}
		return abs, func(bool) {}, nil
	}
	tmp, err := os.MkdirTemp("", "feedd-demo-")
	if err != nil {
		return "", nil, err
	}
	return tmp, func(success bool) {
		if success {
			os.RemoveAll(tmp)
		}
	}, nil
}

// writeConfigs writes a random pair secret and one configuration per
// member, on free loopback ports, into the working directory.
func (d *demo) writeConfigs() error {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	secretPath := filepath.Join(d.dir, "pair.secret")
	if err := os.WriteFile(secretPath, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		return err
	}
	ports, err := freePorts(2 * len(demoMemberIDs))
	if err != nil {
		return err
	}
	n := len(demoMemberIDs)
	pairAddr := func(i int) string { return "127.0.0.1:" + strconv.Itoa(ports[i]) }
	ttys := d.sim.Ports()
	d.members = nil
	for i, id := range demoMemberIDs {
		var peers strings.Builder
		for j, peer := range demoMemberIDs {
			if j != i {
				fmt.Fprintf(&peers, "    - id: %s\n      address: %s\n", peer, pairAddr(j))
			}
		}
		admin := "127.0.0.1:" + strconv.Itoa(ports[n+i])
		text := fmt.Sprintf(`# Written by feedd demo: member %[1]s of the demo pair.
pipeline: %[2]s
member_id: %[1]s
serial:
  device: %[3]s
  baud: %[4]d
framing:
  mode: nmea
sequence:
  nmea_field: 1
kafka:
  brokers: [%[5]s]
  topic: %[6]s
pair:
  listen: %[7]s
  peers:
%[8]s  secret_file: %[9]s
admin:
  listen: %[10]s
`, id, demoPipeline, strconv.Quote(ttys[i]), serialsim.DefaultBaud, d.broker, demoTopic,
			pairAddr(i), peers.String(), strconv.Quote(secretPath), admin)
		path := filepath.Join(d.dir, id+".yaml")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			return err
		}
		logPath := filepath.Join(d.dir, id+".log")
		if err := os.WriteFile(logPath, nil, 0o644); err != nil {
			return err
		}
		d.members = append(d.members, &demoMember{
			id: id, config: path, logPath: logPath,
			admin: newAdminClient(admin, 800*time.Millisecond),
		})
	}
	return d.writePrometheusConfig(filepath.Join(d.dir, "prometheus.yml"))
}

// writePrometheusConfig writes a Prometheus configuration that scrapes the
// demo's members and its audit with the jobs and labels the shipped alert
// rules and dashboard expect (docs/prometheus/).
func (d *demo) writePrometheusConfig(path string) error {
	var b strings.Builder
	fmt.Fprintf(&b, `# Written by feedd demo: scrapes the demo's members and audit.
# prometheus --config.file=%s
# To evaluate the alerts too, add the rules shipped in docs/prometheus/:
# rule_files: [/path/to/feedd/docs/prometheus/feedd-alerts.yml]
global:
  scrape_interval: 5s
  evaluation_interval: 5s
scrape_configs:
  - job_name: feedd
    static_configs:
`, path)
	for _, m := range d.members {
		fmt.Fprintf(&b, "      - targets: ['%s']\n        labels: {pipeline: %s, member: %s}\n", m.admin.addr, demoPipeline, m.id)
	}
	fmt.Fprintf(&b, `  - job_name: feedd-audit
    static_configs:
      - targets: ['%s']
        labels: {pipeline: %s}
`, d.auditAddr, demoPipeline)
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// freePorts returns n distinct free TCP ports on 127.0.0.1.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
