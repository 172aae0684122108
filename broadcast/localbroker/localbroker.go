package localbroker

import (
	"fmt"
	"log/slog"
	"net"

	"github.com/twmb/franz-go/pkg/kfake"
)

// DefaultListen is where the broker listens unless told otherwise.
const DefaultListen = "127.0.0.1:9092"

// Options configure a local broker.
type Options struct {
	// Listen is host:port; empty means DefaultListen, port 0 an ephemeral
	// port (see Broker.Addr).
	Listen string
	// DataDir, if set, persists topics, records and transaction state
	// there, and a broker started again on it resumes where it stopped.
	DataDir string
	// Logger receives the broker's warnings and errors; nil discards them.
	Logger *slog.Logger
}

// Broker is a running single-node broker.
type Broker struct {
	c    *kfake.Cluster
	addr string
}

// Start starts a broker and returns once it accepts connections.
func Start(o Options) (*Broker, error) {
	if o.Listen == "" {
		o.Listen = DefaultListen
	}
	if _, _, err := net.SplitHostPort(o.Listen); err != nil {
		return nil, fmt.Errorf("listen address %q: %w", o.Listen, err)
	}
	var addr string
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.ClusterID("feedd-local"),
		// kfake always asks for 127.0.0.1:<port>; listen where we were told.
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			ln, err := net.Listen(network, o.Listen)
			if err == nil {
				addr = ln.Addr().String()
			}
			return ln, err
		}),
		// A topic created with the broker's default partition count gets
		// one partition, as a pipeline's topic must have.
		kfake.DefaultNumPartitions(1),
	}
	if o.DataDir != "" {
		opts = append(opts, kfake.DataDir(o.DataDir))
	}
	if o.Logger != nil {
		opts = append(opts, kfake.WithLogger(logger{o.Logger}))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("starting the local broker on %s: %w", o.Listen, err)
	}
	return &Broker{c: c, addr: addr}, nil
}

// Addr is the host:port the broker listens on.
func (b *Broker) Addr() string { return b.addr }

// Cluster is the kfake cluster behind the broker, for tests that inject
// faults (kfake.Cluster.Fault, ControlKey).
func (b *Broker) Cluster() *kfake.Cluster { return b.c }

// Close stops the broker, persisting its state if it has a data directory.
func (b *Broker) Close() { b.c.Close() }

// logger passes kfake's warnings and errors to slog; its info and debug
// lines trace every request.
type logger struct{ l *slog.Logger }

func (l logger) Logf(level kfake.LogLevel, format string, args ...any) {
	switch level {
	case kfake.LogLevelError:
		l.l.Error("local broker: " + fmt.Sprintf(format, args...))
	case kfake.LogLevelWarn:
		l.l.Warn("local broker: " + fmt.Sprintf(format, args...))
	}
}
