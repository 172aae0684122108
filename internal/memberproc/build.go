package memberproc

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
)

// feeddPackage is the command Build builds.
const feeddPackage = "github.com/feedd/feedd/cmd/feedd"

// Build builds the feedd binary into dir, with the go tool on the PATH or
// else the one of the running toolchain, and returns its path. It is for
// tests, which run inside the module.
func Build(ctx context.Context, dir string) (string, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	path := filepath.Join(dir, "feedd")
	if out, err := exec.CommandContext(ctx, goTool, "build", "-o", path, feeddPackage).CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", feeddPackage, err, out)
	}
	return path, nil
}
