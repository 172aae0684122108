package ftpair

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"testing"
)

// TestNoClockNoGoroutinesNoIO checks, on the source, that the package and
// its tests never read the wall clock, sleep, start timers or goroutines,
// or do I/O beyond reading and writing testdata: the core and its tests are
// deterministic.
func TestNoClockNoGoroutinesNoIO(t *testing.T) {
	forbiddenTime := map[string]bool{
		"Now": true, "Since": true, "Until": true, "Sleep": true, "After": true, "AfterFunc": true,
		"Tick": true, "NewTimer": true, "NewTicker": true,
	}
	forbiddenImports := map[string]bool{
		"net": true, "net/http": true, "os/exec": true, "sync": true, "sync/atomic": true,
		"math/rand": true, "crypto/rand": true, "syscall": true, "unsafe": true,
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		isTest := len(name) > 8 && name[len(name)-8:] == "_test.go"
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if forbiddenImports[path] || !isTest && path == "os" {
				t.Errorf("%s imports %s", fset.Position(imp.Pos()), path)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.GoStmt:
				t.Errorf("%s starts a goroutine", fset.Position(n.Pos()))
			case *ast.SelectorExpr:
				id, ok := n.X.(*ast.Ident)
				switch {
				case !ok:
				case id.Name == "time" && forbiddenTime[n.Sel.Name]:
					t.Errorf("%s uses time.%s", fset.Position(n.Pos()), n.Sel.Name)
				case id.Name == "rand" && n.Sel.Name != "New" && n.Sel.Name != "NewPCG" && n.Sel.Name != "Rand":
					// math/rand/v2's top-level functions are seeded at random.
					t.Errorf("%s uses rand.%s; use a seeded *rand.Rand", fset.Position(n.Pos()), n.Sel.Name)
				}
			}
			return true
		})
	}
}
