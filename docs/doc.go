// Package docs holds the pages that are also data: configuration.md is the
// one place a setting's default and meaning are written, and the command
// line's help for each setting's flag is read from it here, so the page
// and the help cannot drift apart. The package reads the page; it never
// decides anything about the configuration itself (the code's defaults and
// rules are checked against the page by cmd/feedd's tests).
package docs

import _ "embed"

// Configuration is docs/configuration.md as it was when the binary was built.
//
//go:embed configuration.md
var Configuration string
