package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/feedd/feedd/ingest"
	"github.com/spf13/cobra"
)

// commands are feedd's commands, in the order its help lists them.
func commands() []*cobra.Command {
	return []*cobra.Command{
		runCommand(),
		brokerCommand(),
		simCommand(),
		portsCommand(os.LookupEnv, ingest.ListPorts),
		probeCommand(probeDeps{lookupEnv: os.LookupEnv, list: ingest.ListPorts, open: ingest.OpenSerialMarked}),
		statusCommand(),
		switchoverCommand(),
		demoCommand(),
		auditCommand(),
		versionCommand(),
		genManCommand(),
	}
}

// The commands are listed in the order of commands(), by use, not
// alphabetically.
func init() { cobra.EnableCommandSorting = false }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// errUsage marks a usage error: a bad flag, an unknown command, an
// unexpected argument (exit 2). A bare errUsage says the message already
// went to stderr; a usageError carries its message.
var errUsage = errors.New("usage")

// usageError is a usage error with its message, which dispatch prints.
type usageError struct{ msg string }

func (e usageError) Error() string        { return e.msg }
func (e usageError) Is(target error) bool { return target == errUsage }

func usageErrorf(format string, args ...any) error {
	return usageError{fmt.Sprintf(format, args...)}
}

// errConfig marks a configuration that cannot run: starting again will not
// help, so it exits with exitConfig (EX_CONFIG of sysexits.h), which the
// systemd unit does not restart on.
var errConfig = errors.New("invalid configuration")

const exitConfig = 78

// noArgs is cobra.NoArgs as a usage error (exit 2).
func noArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("unexpected argument %q", args[0])
	}
	return nil
}

// dispatch runs the command that args name and returns the exit status:
// 0 when it succeeded or printed help, 2 on a usage error, exitConfig on
// a configuration that cannot run, 1 on any other error. It prints the
// error on stderr as "feedd CMD: ...".
func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	name, err := execute(ctx, newRoot(stdout, stderr, commands()...), args)
	switch {
	case err == nil:
		return 0
	case err == errUsage:
		return 2
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "%s: %v\nRun '%s --help' for usage.\n", name, err, name)
		return 2
	case errors.Is(err, errConfig):
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return exitConfig
	default:
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
}

// execute runs root with args and returns the path of the command that
// ran ("feedd run") and its error.
func execute(ctx context.Context, root *cobra.Command, args []string) (string, error) {
	if args == nil {
		args = []string{} // cobra reads os.Args for nil
	}
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if cmd == nil {
		cmd = root
	}
	return cmd.CommandPath(), err
}

// newRoot returns the feedd command with cmds under it, writing to stdout
// and stderr, with cobra's help, completion and version in place and every
// flag's default shown.
func newRoot(stdout, stderr io.Writer, cmds ...*cobra.Command) *cobra.Command {
	root := &cobra.Command{
		Use:   "feedd",
		Short: "carry a serial feed into a Kafka topic with no gap and no duplicate",
		Long: "feedd carries a continuous data feed that arrives on a serial line into a Kafka topic.\n" +
			"Two members read the same feed; exactly one broadcasts every frame, with no gap and no\n" +
			"duplicate, even when the host that carries it dies. See docs/configuration.md and\n" +
			"docs/operations.md, or the man pages (feedd(1), feedd-run(1), ...).",
		Version: versionDetail(),
		Args:    cobra.ArbitraryArgs,
		// The errors are printed by dispatch, which knows their exit status.
		SilenceErrors:     true,
		SilenceUsage:      true,
		DisableAutoGenTag: true,
		RunE:              rootRun,
	}
	root.SuggestionsMinimumDistance = 2
	root.SetVersionTemplate("{{.Name}} {{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err.Error()} })
	// Before the completion command is made: it keeps the writer it finds.
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(cmds...)
	root.InitDefaultHelpCmd()
	refuseUnknownHelpTopics(root)
	root.InitDefaultCompletionCmd()
	root.InitDefaultVersionFlag()
	showDefaults(root)
	return root
}

// rootRun runs "feedd" without a command, which is a usage error, or with
// one it does not know.
func rootRun(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(cmd.ErrOrStderr(), cmd.UsageString())
		return errUsage
	}
	msg := fmt.Sprintf("unknown command %q", args[0])
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += " (did you mean " + strings.Join(s, " or ") + "?)"
	}
	return usageError{msg}
}

// refuseUnknownHelpTopics makes "feedd help frobnicate" a usage error.
// cobra's help command would show feedd's help for it, as the root takes
// arguments (to name an unknown command itself), and exit 0.
func refuseUnknownHelpTopics(root *cobra.Command) {
	for _, c := range root.Commands() {
		if c.Name() != "help" || c.Run == nil {
			continue
		}
		show := c.Run
		c.Run = nil
		c.RunE = func(c *cobra.Command, args []string) error {
			if _, rest, _ := c.Root().Find(args); len(rest) > 0 {
				return usageErrorf("unknown help topic %q", strings.Join(args, " "))
			}
			show(c, args)
			return nil
		}
	}
}
