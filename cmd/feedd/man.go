package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// genManCommand is "feedd gen-man DIR": the man pages, feedd(1) and one per
// command, written from the same help the commands print. It is hidden:
// it is for packaging (make install), not for operators.
func genManCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "gen-man DIR",
		Short:  "write the man pages, feedd.1 and feedd-COMMAND.1, into DIR",
		Hidden: true,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErrorf("want one argument, the directory to write the man pages in; got %d", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return err
			}
			// The date comes from SOURCE_DATE_EPOCH when it is set, so a
			// package build is reproducible.
			header := &doc.GenManHeader{Title: "FEEDD", Section: "1", Source: "feedd " + versionString(), Manual: "feedd manual"}
			if err := doc.GenManTree(cmd.Root(), header, args[0]); err != nil {
				return fmt.Errorf("writing the man pages: %w", err)
			}
			return nil
		},
	}
}
